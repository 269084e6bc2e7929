// Dropdowns: the input that takes their keyboard focus is named after the dropdown's own
// label (label[for=<dropdown id>]), or after its placeholder, so screen readers announce it.
(function () {
  function name(input) {
    if (input.getAttribute("aria-label") || input.getAttribute("aria-labelledby")) return;
    const box = input.closest("[id]");
    const label = box && document.querySelector('label[for="' + CSS.escape(box.id) + '"]');
    if (label) {
      if (!label.id) label.id = box.id + "-label";
      input.setAttribute("aria-labelledby", label.id);
    } else {
      const ph = box && box.querySelector(".Select-placeholder, .dash-dropdown-placeholder");
      input.setAttribute("aria-label", (ph && ph.textContent) || (box && box.id) || "choose");
    }
  }
  function pass() {
    document.querySelectorAll("input.dash-dropdown-focus-target, .dash-dropdown input").forEach(name);
  }
  new MutationObserver(pass).observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", pass);
})();
