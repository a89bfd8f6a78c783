// Accessibility repairs of Dash 4's dcc.Dropdown (issue 13; every page loads this asset).
//
// The closed dropdown puts a hidden proxy, <input aria-hidden="true" tabindex="0">, in the Tab
// order in front of its real trigger, a <button tabindex="-1"> (Dash does it because Safari skips
// buttons when tabbing): a keyboard user lands on an element screen readers are told is not
// there (axe aria-hidden-focus, WCAG 4.1.2). Here the button takes the Tab stop itself (an
// explicit tabindex puts a button in Safari's order too) and the proxy leaves it for good
// (inert: Dash sets its tabindex back to 0 whenever the button loses focus).
//
// The button is named by the value shown ("ISO 4217, e.g. EUR"), not by its field; the field's
// <label for=...> goes first in its aria-labelledby, so it is heard as "Currency, EUR". The open
// list (role=listbox) has no name at all; it gets the field's label too.
//
// Left as Dash draws it: each option (role=option) holds a focusable radio input, which is where
// Dash's arrow keys move the focus (axe nested-interactive while a list is open).
(function () {
  "use strict";

  function repair(proxy) {
    const button = proxy.nextElementSibling;
    if (!proxy.inert) {
      proxy.inert = true;
    }
    if (proxy.tabIndex !== -1) {
      proxy.tabIndex = -1;
    }
    if (!button || button.tagName !== "BUTTON") {
      return;
    }
    if (button.tabIndex !== 0) {
      button.tabIndex = 0;
    }
    const label = button.id ? document.querySelector(`label[for="${CSS.escape(button.id)}"]`) : null;
    if (!label) {
      return;
    }
    const named = button.getAttribute("aria-labelledby") || "";
    if (!named.split(" ").includes(label.id || "\u0000")) {
      label.id = label.id || `${button.id}-label`;
      button.setAttribute("aria-labelledby", `${label.id} ${named}`.trim());
    }
    const open = button.getAttribute("aria-controls");
    const list = open && document.getElementById(open)?.querySelector("[role=listbox]");
    if (list && !list.hasAttribute("aria-labelledby")) {
      list.setAttribute("aria-labelledby", label.id);
    }
  }

  function repairAll() {
    document.querySelectorAll(".dash-dropdown-focus-target").forEach(repair);
  }

  new MutationObserver(repairAll).observe(document.documentElement, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ["tabindex"],
  });
  repairAll();
})();
