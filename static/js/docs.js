// /docs: Swagger UI from static/vendor/swagger-ui, started here rather than by an inline script, which
// the app's CSP (script-src 'self') does not allow. The schema URL comes from the page's markup.
(function () {
  'use strict';
  const el = document.getElementById('swagger-ui');

  // Swagger UI draws the request-body editor without a label and code samples that scroll sideways
  // without being focusable; name the one and let the keyboard reach the other, as they appear.
  function fixAccessibility() {
    el.querySelectorAll('textarea:not([aria-label])').forEach((t) => {
      t.setAttribute('aria-label', t.classList.contains('body-param__text') ? 'Request body (JSON)'
        : (t.placeholder || 'Value'));
    });
    el.querySelectorAll('pre.microlight:not([tabindex])').forEach((p) => p.setAttribute('tabindex', '0'));
  }
  new MutationObserver(fixAccessibility).observe(el, { childList: true, subtree: true });

  window.ui = SwaggerUIBundle({
    url: el.dataset.openapiUrl,
    domNode: el,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    deepLinking: false,  // a deep link is an <a> inside the summary <button>: nested controls (axe)
    showExtensions: true,
    showCommonExtensions: true,
    syntaxHighlight: { activate: true, theme: 'idea' },  // the default (agate) has 3.4:1 numbers
    validatorUrl: null,  // the default badge would fetch an image from a validator off this origin
    onComplete: () => { document.body.dataset.ready = '1'; },
  });
})();
