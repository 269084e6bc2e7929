// Budget sliders move on a log10 scale; their tooltips show the real value, not the exponent.
window.dccFunctions = window.dccFunctions || {};
window.dccFunctions.pow10 = function (value) {
  const v = Math.pow(10, value);
  if (v >= 100) return v.toFixed(0);
  if (v >= 1) return v.toPrecision(3).replace(/\.?0+$/, "");
  return v.toPrecision(2);
};
