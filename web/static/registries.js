// Registry pages. A tag delete asks first: app.js shows the confirmation
// (data-confirm, which lists every tag on the digest); once it is
// accepted, this adds confirm=yes so the server deletes at once. Without
// JavaScript, or when the page could not list the tags (no
// data-confirm-yes), the server answers a confirmation page instead.
(function () {
  "use strict";
  document.addEventListener(
    "submit",
    (ev) => {
      const form = ev.target;
      if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm-yes")) return;
      if (form.dataset.confirmed !== "1") return; // the dialog has not been accepted
      let input = form.querySelector('input[name="confirm"]');
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = "confirm";
        form.appendChild(input);
      }
      input.value = "yes";
    },
    true, // before app.js's listener, which clears the confirmed mark
  );
})();
