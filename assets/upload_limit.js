/* A browser upload over the server's limit is refused here, with a sentence, before it is read.
 *
 * dcc.Upload (max_size) drops such a file silently; without max_size the browser would read it and
 * post it, and the server would answer a bare HTTP 413.  The limit and the sentence come from the
 * data attributes of the box around the upload (tdacnn/app/jobs_panel.py: data-max-upload-bytes,
 * data-oversize with {name} and {size}, data-error-id: where the sentence goes).
 */
(function () {
    function refuseOversize(event) {
        const box = event.target && event.target.closest && event.target.closest('[data-max-upload-bytes]');
        if (!box) { return; }
        const files = (event.dataTransfer && event.dataTransfer.files) || (event.target && event.target.files) || [];
        const limit = Number(box.dataset.maxUploadBytes);
        const big = Array.from(files).find(function (f) { return f.size > limit; });
        if (!big || !window.dash_clientside || !window.dash_clientside.set_props) { return; }
        const text = box.dataset.oversize.split('{name}').join(big.name)
            .split('{size}').join((big.size / 1048576).toFixed(1));
        window.dash_clientside.set_props(box.dataset.errorId, {children: text});
    }
    document.addEventListener('change', refuseOversize, true);
    document.addEventListener('drop', refuseOversize, true);
})();
