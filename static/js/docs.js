// /docs: Swagger UI from static/vendor/swagger-ui, started here rather than by an inline script, which
// the app's CSP (script-src 'self') does not allow. The schema URL comes from the page's markup.
(function () {
  'use strict';
  const el = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: el.dataset.openapiUrl,
    domNode: el,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    deepLinking: false,  // a deep link is an <a> inside the summary <button>: nested controls (axe)
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,  // the default badge would fetch an image from a validator off this origin
    onComplete: () => { document.body.dataset.ready = '1'; },
  });
})();
