// Names and roles that Dash's own widgets leave out, so screen readers announce them:
// - a dropdown is reached by the keyboard through a focusable input beside its button; that
//   input is named after the dropdown's label (label[for=<button id>]) and current value, and is
//   not hidden from assistive technology (it is what takes the focus);
// - its "clear selection" link is a button;
// - a slider's thumb is named after the label of the control it belongs to;
// - a checklist (a listbox) is named by its label[for=<id>].
(function () {
  function labelFor(id) {
    return id ? document.querySelector('label[for="' + CSS.escape(id) + '"]') : null;
  }
  function dropdown(input) {
    const button = input.parentElement && input.parentElement.querySelector("button[id]");
    if (input.getAttribute("aria-hidden") === "true") input.removeAttribute("aria-hidden");
    if (input.dataset.a11yNamed) return;
    input.dataset.a11yNamed = "1";
    const label = labelFor(button && button.id);
    if (label) {
      if (!label.id) label.id = button.id + "-label";
      const parts = [label.id];
      const value = document.getElementById(button.id + "-value");
      if (value) parts.push(value.id);
      input.setAttribute("aria-labelledby", parts.join(" "));
      input.removeAttribute("aria-label");
    } else {
      const ph = input.parentElement.querySelector(".dash-dropdown-placeholder, .Select-placeholder");
      input.setAttribute("aria-label", (ph && ph.textContent) || (button && button.id) || "choose");
    }
    input.setAttribute("aria-haspopup", "listbox");
  }
  function clearLink(a) {
    if (!a.getAttribute("href") && !a.getAttribute("role")) a.setAttribute("role", "button");
  }
  function thumb(t) {
    if (t.getAttribute("aria-label") || t.getAttribute("aria-labelledby")) return;
    const box = t.closest(".dash-slider-container");
    const holder = box && box.parentElement;
    const label = (holder && holder.querySelector("label")) || labelFor(box && box.id);
    t.setAttribute("aria-label", ((label && label.textContent) || "value") + " (slider)");
  }
  function listbox(box) {
    if (box.getAttribute("aria-label") || box.getAttribute("aria-labelledby")) return;
    const label = labelFor(box.id);
    if (label) {
      if (!label.id) label.id = box.id + "-label";
      box.setAttribute("aria-labelledby", label.id);
    }
  }
  function pass() {
    document.querySelectorAll("[role=listbox][id]").forEach(listbox);
    document.querySelectorAll("input.dash-dropdown-focus-target").forEach(dropdown);
    document.querySelectorAll("a.dash-dropdown-clear").forEach(clearLink);
    document.querySelectorAll(".dash-slider-thumb[role=slider], [role=slider]").forEach(thumb);
  }
  new MutationObserver(pass).observe(document.documentElement, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ["aria-hidden"],
  });
  document.addEventListener("DOMContentLoaded", pass);
})();
