// Apply the remembered theme before the Dash app renders, so a light-theme user never
// sees a dark flash on reload. The dcc.Store with id "theme" (storage_type="local")
// keeps the choice in localStorage as JSON; the theme callback takes over from here.
(function () {
  var theme = "dark";
  try {
    var stored = JSON.parse(window.localStorage.getItem("theme"));
    if (stored === "light" || stored === "dark") {
      theme = stored;
    }
  } catch (e) {
    /* no storage or bad JSON: keep the default */
  }
  document.documentElement.setAttribute("data-theme", theme);
})();
