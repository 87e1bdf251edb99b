/* A checkpoint upload goes straight to the JSON API, never through a Dash callback.
 *
 * The box (tdacnn/app/jobs_panel.py, a plain div) carries, as data attributes: the limit and the sentence
 * for a file over it (data-max-upload-bytes, data-oversize: checked by upload_limit.js), the accepted
 * suffixes (data-accept), where to post (data-upload-url, relative to the app's path prefix), where a
 * refusal's sentence goes (data-error-id), where the upload's own progress goes (data-progress-id), and the
 * dcc.Store that receives the load job's id (data-job-store).  A click (or Enter) on the box opens the
 * file chooser; a file can also be dropped on it.  The file is posted as multipart "file":
 * 202 {"job": id} puts {"id": id} into the store (the page then follows the load job like any other);
 * a refusal {"error": sentence} shows that sentence and puts {"id": null} (no earlier result beside it).
 */
(function () {
    function uploadBox(el) {
        return el && el.closest ? el.closest('[data-upload-url]') : null;
    }

    function setProps(id, props) {
        if (id && window.dash_clientside && window.dash_clientside.set_props) {
            window.dash_clientside.set_props(id, props);
        }
    }

    function prefix() {
        try {
            const config = JSON.parse(document.getElementById('_dash-config').textContent);
            return config.requests_pathname_prefix || config.url_base_pathname || '/';
        } catch (e) {
            return '/';
        }
    }

    function refuse(box, text) {
        setProps(box.dataset.progressId, {children: ''});
        setProps(box.dataset.errorId, {children: text});
        setProps(box.dataset.jobStore, {data: {id: null, t: Date.now()}});
    }

    function send(box, file) {
        if (window.tdacnnUploadLimit && window.tdacnnUploadLimit.refuse(box, [file])) {
            setProps(box.dataset.progressId, {children: ''});
            setProps(box.dataset.jobStore, {data: {id: null, t: Date.now()}});
            return;
        }
        setProps(box.dataset.errorId, {children: ''});
        setProps(box.dataset.progressId, {children: 'uploading ' + file.name + '…'});
        const form = new FormData();
        form.append('file', file, file.name);
        const xhr = new XMLHttpRequest();  // not fetch: it reports the upload's progress
        xhr.open('POST', prefix() + box.dataset.uploadUrl);
        xhr.setRequestHeader('Accept', 'application/json');
        xhr.upload.onprogress = function (e) {
            if (e.lengthComputable) {
                setProps(box.dataset.progressId,
                         {children: 'uploading ' + file.name + ': ' + Math.round(100 * e.loaded / e.total) + ' %'});
            }
        };
        xhr.onload = function () {
            let body = null;
            try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
            if (xhr.status >= 200 && xhr.status < 300 && body && body.job) {
                setProps(box.dataset.progressId, {children: ''});
                setProps(box.dataset.jobStore, {data: {id: body.job, t: Date.now()}});
            } else {
                refuse(box, (body && body.error) || ('the server refused ' + file.name + ' (HTTP ' + xhr.status + ')'));
            }
        };
        xhr.onerror = function () { refuse(box, file.name + ' could not be sent: the server did not answer'); };
        xhr.send(form);
    }

    function choose(box) {
        const input = document.createElement('input');
        input.type = 'file';
        input.accept = box.dataset.accept || '';
        input.addEventListener('change', function () {
            if (input.files && input.files[0]) { send(box, input.files[0]); }
        });
        input.click();
    }

    document.addEventListener('click', function (event) {
        const box = uploadBox(event.target);
        if (box) { choose(box); }
    });
    document.addEventListener('keydown', function (event) {
        const box = uploadBox(event.target);
        if (box && (event.key === 'Enter' || event.key === ' ')) { event.preventDefault(); choose(box); }
    });
    document.addEventListener('dragover', function (event) {
        const box = uploadBox(event.target);
        if (box) { event.preventDefault(); box.classList.add('jobs-upload-over'); }
    });
    document.addEventListener('dragleave', function (event) {
        const box = uploadBox(event.target);
        if (box) { box.classList.remove('jobs-upload-over'); }
    });
    document.addEventListener('drop', function (event) {
        const box = uploadBox(event.target);
        if (!box) { return; }
        event.preventDefault();  // the browser would otherwise open the dropped file
        box.classList.remove('jobs-upload-over');
        const file = event.dataTransfer && event.dataTransfer.files && event.dataTransfer.files[0];
        if (file) { send(box, file); }
    });
})();
