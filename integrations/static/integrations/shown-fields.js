"use strict";
// Shows only the fields that apply to a choice. A select or checkbox with
// data-shows='{"choice": ["field", ...], ...}' hides the rows of the fields it names for its other
// choices ("true"/"false" for a checkbox); an element with data-shown-by="name" and
// data-shown-for="choice ..." shows for those choices of that field only. A row with an error is
// never hidden. Without this script every field stays visible.
{
    const valueOf = (control) => control.type === "checkbox" ? String(control.checked) : control.value;

    // A field alone on its line is a .form-row; one of several is a .fieldBox inside its own wrapper.
    function rowOf(form, name) {
        const box = form.querySelector(`.fieldBox.field-${name}`);
        return box ? box.parentElement : form.querySelector(`.form-row.field-${name}`);
    }

    function show(element, shown) {
        const hasError = element.classList.contains("errors") || element.querySelector(".errorlist");
        element.hidden = !shown && !hasError;
    }

    function update(control) {
        const fieldsFor = JSON.parse(control.dataset.shows);
        const shown = new Set(fieldsFor[valueOf(control)] || []);
        for (const name of new Set(Object.values(fieldsFor).flat())) {
            const row = rowOf(control.form, name);
            if (row) {
                show(row, shown.has(name));
            }
        }
        for (const line of control.form.querySelectorAll(".form-row > .form-multiline")) {
            line.parentElement.hidden = Array.from(line.children).every((child) => child.hidden);
        }
        for (const element of control.form.querySelectorAll(`[data-shown-by="${control.name}"]`)) {
            show(element, element.dataset.shownFor.split(" ").includes(valueOf(control)));
        }
    }

    document.addEventListener("DOMContentLoaded", () => {
        document.querySelectorAll("[data-shows]").forEach(update);
    });
    document.addEventListener("change", (event) => {
        if (event.target.matches("[data-shows]")) {
            update(event.target);
        }
    });
}
