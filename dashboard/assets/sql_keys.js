// The SQL page: Ctrl+Enter (or Cmd+Enter) in the query box runs the query.
document.addEventListener("keydown", function (e) {
  if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey)) return;
  if (!e.target || e.target.id !== "sql-text") return;
  const run = document.getElementById("sql-run");
  if (run) {
    e.preventDefault();
    run.click();
  }
});
