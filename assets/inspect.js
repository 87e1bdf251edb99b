/* Clientside callbacks of tdacnn's Explore view (tdacnn/app/inspect.py registers them).
 * No server round trip: colour-by swaps the stylesheet, the tooltip follows the pointer,
 * the selection and the colour mode go into the URL keys `sel` and `color` and come back from them. */
(function () {
  'use strict';

  // where the pointer is, for the tooltip (mouseoverNodeData carries no position)
  var pointer = {x: 0, y: 0};
  document.addEventListener('mousemove', function (e) { pointer = {x: e.clientX, y: e.clientY}; }, {passive: true});

  function isNode(el) { return el && el.data && el.data.source === undefined; }

  function graphPart(request) {
    // the parts of a request that make the graph (the persistence settings only draw the barcode)
    if (!request || request.error) { return null; }
    return JSON.stringify([request.source, request.cloud, request.density, request.mapper, request.auto || null]);
  }

  function setQueryKey(key, value) {
    // one key of the address bar (value null: removed), every other key kept in its place
    var rest = window.location.search.replace(/^\?/, '').split('&').filter(function (kv) {
      return kv && kv.split('=')[0] !== key;
    });
    if (value !== null && value !== '') { rest.push(key + '=' + value); }
    var search = rest.length ? '?' + rest.join('&') : '';
    if (search !== window.location.search) {
      window.history.replaceState(window.history.state, '', window.location.pathname + search + window.location.hash);
    }
  }

  var api = {
    /* colour mode, highlighted ids, elements → stylesheet, colour-by options, legend class */
    restyle: function (mode, highlight, elements, styles) {
      var nodes = (elements || []).filter(isNode);
      var have = nodes.length ? nodes[0].data : {};
      var modes = styles.modes;
      var available = modes.filter(function (m) { return ('c_' + m) in have; });
      if (!available.length) { available = ['density']; }
      var use = available.indexOf(mode) >= 0 ? mode : 'density';
      var sheet = (styles.sheets[use] || styles.sheets.density).slice();
      if (highlight !== null && highlight !== undefined) {
        // found nodes stand out (an amber halo), the rest fade; a selected node keeps its own halo
        var selected = sheet.filter(function (rule) { return rule.selector === 'node:selected'; });
        sheet.push({selector: 'node', style: {opacity: 0.18}});
        sheet.push({selector: 'edge', style: {opacity: 0.15}});
        if (highlight.length) {
          sheet.push({selector: highlight.map(function (id) { return 'node[id = "' + id + '"]'; }).join(', '),
                      style: {opacity: 1, 'underlay-color': '#ffb000', 'underlay-padding': 7,
                              'underlay-opacity': 0.85, 'underlay-shape': 'round-rectangle'}});
        }
        sheet = sheet.concat(selected);
      }
      var options = modes.map(function (m) {
        return {label: styles.labels[m], value: m, disabled: available.indexOf(m) < 0};
      });
      // a mode this graph cannot show (one network only, 5x5 filters ...) falls back to codensity, visibly
      var value = (nodes.length && use !== mode) ? use : window.dash_clientside.no_update;
      return [sheet, options, 'legend show-' + use, value];
    },

    /* colour mode → URL key `color` (left out for the default, codensity) */
    writeColor: function (mode) {
      setQueryKey('color', mode && mode !== 'density' ? encodeURIComponent(mode) : null);
      return window.dash_clientside.no_update;
    },

    /* hovered node's data → tooltip text and position (hidden on unhover: clearOnUnhover) */
    tooltip: function (data) {
      if (!data || !data.tip) { return ['', {display: 'none'}]; }
      var left = pointer.x + 16, top = pointer.y + 16;
      if (left + 340 > window.innerWidth) { left = Math.max(4, pointer.x - 340); }
      if (top + 160 > window.innerHeight) { top = Math.max(4, pointer.y - 160); }
      return [data.tip, {display: 'block', left: left + 'px', top: top + 'px'}];
    },

    /* a graph was drawn → select the URL's nodes (once, on the graph the current request asked for);
       otherwise unselect what an earlier graph had selected (the same id is another cluster now) */
    restoreSelection: function (memory, pending, elements, request) {
      var nu = window.dash_clientside.no_update;
      if (!memory || memory.error || !elements || !elements.length) { return [nu, nu]; }
      var want = new Set(pending || []);
      if (want.size && graphPart(memory.request) !== graphPart(request)) { return [nu, nu]; }
      var out = elements.map(function (el) {
        return isNode(el) ? Object.assign({}, el, {selected: want.has(el.data.id)}) : el;
      });
      return [out, want.size ? null : nu];
    },

    /* selection → URL key `sel` (sorted ids, comma-separated), merged into the query */
    writeSelection: function (selected, pending) {
      var nu = window.dash_clientside.no_update;
      if (!Array.isArray(selected) || (pending && pending.length)) { return nu; }
      var ids = Array.from(new Set(selected.map(function (d) { return d.id; }))).sort();
      setQueryKey('sel', ids.length ? ids.map(encodeURIComponent).join(',') : null);
      return nu;
    }
  };

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.tdacnn = Object.assign({}, window.dash_clientside.tdacnn, api);
})();
