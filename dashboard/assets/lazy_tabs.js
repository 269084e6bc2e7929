// Lazy drawing below the fold: a tab set wrapped in [data-lazy-tabs=<Tabs id>] with no tab
// chosen gets its first tab ([data-lazy-first]) chosen once it comes near the viewport, so its
// charts are drawn when a person scrolls to them, not during the page's load. It starts
// watching once the content above it ([data-lazy-after]: an element id) is there and sized (a
// second later, or at the first scroll), or the tabs would count as in view before that content
// pushed them down. A tab the address names is chosen by the page itself, at once.
(function () {
  function observe(box) {
    const io = new IntersectionObserver(
      (entries) => {
        if (!entries.some((e) => e.isIntersecting)) return;
        io.disconnect();
        const dc = window.dash_clientside;
        if (box.querySelector(".tab--selected") || !dc || !dc.set_props) return;
        dc.set_props(box.dataset.lazyTabs, { value: box.dataset.lazyFirst });
      },
      { rootMargin: "0px" }
    );
    io.observe(box);
  }
  function ready(box) {
    const above = box.dataset.lazyAfter && document.getElementById(box.dataset.lazyAfter);
    return !above || above.childElementCount > 0;
  }
  function pass() {
    document.querySelectorAll("[data-lazy-tabs]:not([data-lazy-watched])").forEach((box) => {
      if (!ready(box)) return;
      box.dataset.lazyWatched = "1";
      // the content above sizes its tables and charts after it arrives: watch once that is
      // done (a second), or at once when the person scrolls
      let started = false;
      const start = () => {
        if (started) return;
        started = true;
        window.removeEventListener("scroll", start);
        observe(box);
      };
      window.addEventListener("scroll", start, { passive: true });
      setTimeout(start, 1000);
    });
  }
  new MutationObserver(pass).observe(document.documentElement, { childList: true, subtree: true });
})();
