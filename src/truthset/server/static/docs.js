// The API docs page (/docs): Swagger UI from static/swagger (vendored, see its LICENSE), started
// from this file rather than an inline script, so the page keeps the app's Content-Security-Policy.
const root = document.getElementById('swagger-ui');
window.ui = window.SwaggerUIBundle({
  url: root.dataset.openapi,
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
