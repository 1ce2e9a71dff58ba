// Starts Swagger UI on /api/docs from a file, not an inline script, so the page runs under
// the console's Content-Security-Policy (script-src 'self'). Changes need the session's
// CSRF token in X-CSRF-Token; reading works with the session cookie alone.
window.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The default validator badge loads an image from swagger.io: none here.
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
