// Dark mode (issue 18): the page's head loads this first (pages/_shell.py INDEX_STRING,
// auth/templates/base.html), so <html data-bs-theme> is set before the first paint, from the
// driver's choice remembered in localStorage or else the system's setting. Dash loads it again
// with the other assets: the second run only adds the navigation's toggle callback.
(function () {
  "use strict";
  const KEY = "polaris-theme";
  const dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function chosen() {
    try {
      const value = window.localStorage.getItem(KEY);
      return value === "dark" || value === "light" ? value : null;
    } catch (_error) {
      return null; // storage refused (private mode): the system's setting
    }
  }

  function current() {
    return chosen() || (dark && dark.matches ? "dark" : "light");
  }

  function apply(theme) {
    document.documentElement.setAttribute("data-bs-theme", theme);
  }

  if (!window.polarisThemeSet) {
    window.polarisThemeSet = true;
    apply(current());
    // Nothing chosen yet: the page follows the system as it changes.
    if (dark && dark.addEventListener) {
      dark.addEventListener("change", () => chosen() || apply(current()));
    }
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    polarisTheme: {
      // The navigation's toggle (components/shell.py THEME_TOGGLE_ID): drawn, it says the mode
      // in force; pressed, it switches and remembers the choice.
      toggle: function (clicks) {
        let theme = current();
        if (clicks) {
          theme = theme === "dark" ? "light" : "dark";
          try {
            window.localStorage.setItem(KEY, theme);
          } catch (_error) {
            // not remembered, still switched
          }
          apply(theme);
        }
        return [theme === "dark" ? "true" : "false", theme === "dark" ? "\u263E" : "\u2600"];
      },
    },
  });
})();
