/* Sightline loader: <script async src="https://HOST/sightline.js" data-key="PUBLIC_KEY"></script>
   Exposes window.sightline at once; calls made before the wasm is ready are queued, then
   replayed in order. Loads the wasm tracker from HOST/tracker/. */
(function () {
  var script = document.currentScript;
  if (!script || window.sightline) return;
  var src = new URL(script.src, location.href);
  var host = script.getAttribute('data-host') || src.origin;
  var key = script.getAttribute('data-key');
  var queue = [];
  var api = {};
  ['track'].forEach(function (m) {
    api[m] = function () { queue.push([m, Array.prototype.slice.call(arguments)]); };
  });
  window.sightline = api;
  if (!key) return;
  var base = new URL('tracker/', src);
  import(new URL('tracker_wasm.js', base).href).then(function (mod) {
    return mod.default({ module_or_path: new URL('tracker_wasm_bg.wasm', base) }).then(function () {
      mod.init(host, key);
      api.track = function (name, props) { mod.track(String(name), JSON.stringify(props || {})); };
      queue.forEach(function (c) { api[c[0]].apply(null, c[1]); });
      queue = [];
    });
  }).catch(function (e) { if (window.console) console.warn('sightline: tracker failed to load', e); });
})();
