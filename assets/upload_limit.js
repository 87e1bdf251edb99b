/* A browser upload over the server's limit is refused here, with a sentence, before it is read.
 *
 * dcc.Upload (max_size) drops such a file silently; without max_size the browser would read it and
 * post it, and the server would answer a bare HTTP 413.  The limit and the sentence come from the
 * data attributes of the box around the upload (data-max-upload-bytes, data-oversize with {name} and
 * {size}, data-error-id: where the sentence goes): the Explore tab's session upload
 * (tdacnn/app/explore_layout.py) and the Jobs tab's checkpoint upload (tdacnn/app/jobs_panel.py, whose
 * file assets/jobs_upload.js sends itself and checks with window.tdacnnUploadLimit.refuse).
 */
(function () {
    /* Put the sentence for the first file over the limit of `box` under it; true when one was refused. */
    function refuse(box, files) {
        const limit = Number(box.dataset.maxUploadBytes);
        const big = Array.from(files || []).find(function (f) { return f.size > limit; });
        if (!big) { return false; }
        const text = box.dataset.oversize.split('{name}').join(big.name)
            .split('{size}').join((big.size / 1048576).toFixed(1));
        if (window.dash_clientside && window.dash_clientside.set_props) {
            window.dash_clientside.set_props(box.dataset.errorId, {children: text});
        }
        return true;
    }

    function refuseOversize(event) {
        const box = event.target && event.target.closest && event.target.closest('[data-max-upload-bytes]');
        if (!box || box.dataset.uploadUrl) { return; }  // a box with its own sender checks for itself
        refuse(box, (event.dataTransfer && event.dataTransfer.files) || (event.target && event.target.files));
    }
    window.tdacnnUploadLimit = {refuse: refuse};
    document.addEventListener('change', refuseOversize, true);
    document.addEventListener('drop', refuseOversize, true);
})();
