// SwarmOps stack deploy form: a chosen compose file is read into the
// text box (so what is deployed is what is shown, and can be edited),
// and more file rows can be added. The form works without it: the
// compose file and the rows' files are then uploaded with the form.
"use strict";

(function () {
  const compose = document.getElementById("f-compose");
  const upload = document.getElementById("f-compose_file");
  if (compose && upload && window.FileReader) {
    upload.addEventListener("change", () => {
      const file = upload.files && upload.files[0];
      if (!file) return;
      const reader = new FileReader();
      reader.onload = () => {
        compose.value = String(reader.result);
        upload.value = ""; // the text box holds it now, edits and all
        compose.focus();
      };
      reader.readAsText(file);
    });
  }

  const rows = document.getElementById("file-rows");
  const add = document.getElementById("add-file-row");
  if (!rows || !add) return;
  add.hidden = false;
  add.addEventListener("click", () => {
    const all = rows.querySelectorAll("[data-file-row]");
    const last = all[all.length - 1];
    if (!last) return;
    const n = all.length;
    const row = last.cloneNode(true);
    row.querySelectorAll("[data-part]").forEach((el) => {
      el.id = "f-file-" + n + "-" + el.dataset.part;
      el.name = "file." + n + "." + el.dataset.part;
      el.value = "";
      if (el.tagName === "TEXTAREA") el.removeAttribute("placeholder");
    });
    row.querySelectorAll("[data-for-part]").forEach((l) => l.setAttribute("for", "f-file-" + n + "-" + l.dataset.forPart));
    row.querySelectorAll(".badge").forEach((b) => b.remove());
    rows.appendChild(row);
    const path = row.querySelector("input[type=text]");
    if (path) path.focus();
  });
})();
