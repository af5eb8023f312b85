// Runs in the admin: the Debug view's tabs and "Copy as cURL", confirmation of Cancel, and a run page that
// follows an active run by itself (it fetches the page again every few seconds and swaps the run's part).
"use strict";
{
    function setUpTabs(root) {
        const list = root.querySelector(".debug-tabs");
        if (!list) return;
        const tabs = Array.from(list.querySelectorAll("[role=tab]"));
        function select(name) {
            for (const tab of tabs) {
                const selected = tab.dataset.tab === name;
                tab.setAttribute("aria-selected", String(selected));
                tab.tabIndex = selected ? 0 : -1;
                document.getElementById(tab.getAttribute("aria-controls")).hidden = !selected;
            }
        }
        for (const tab of tabs) {
            tab.addEventListener("click", () => select(tab.dataset.tab));
            tab.addEventListener("keydown", (event) => {
                const step = {ArrowRight: 1, ArrowLeft: -1}[event.key];
                if (!step) return;
                const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
                select(next.dataset.tab);
                next.focus();
            });
        }
        const wanted = list.dataset.selected;
        select(tabs.some((tab) => tab.dataset.tab === wanted) ? wanted : tabs[0].dataset.tab);
    }

    function setUpCopy(root) {
        for (const button of root.querySelectorAll("[data-copy]")) {
            button.addEventListener("click", async () => {
                const source = document.getElementById(button.dataset.copy);
                const result = button.parentElement.querySelector(".copy-result");
                const text = source.textContent;
                try {
                    await navigator.clipboard.writeText(text);
                    result.textContent = "Copied.";
                } catch (error) {
                    const range = document.createRange();
                    range.selectNodeContents(source);
                    const selection = window.getSelection();
                    selection.removeAllRanges();
                    selection.addRange(range);
                    result.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
                }
            });
        }
    }

    function setUpConfirm(root) {
        for (const form of root.querySelectorAll("form[data-confirm]")) {
            form.addEventListener("submit", (event) => {
                if (!window.confirm(form.dataset.confirm)) event.preventDefault();
            });
        }
    }

    function follow(live) {
        const every = Number(live.dataset.refreshMs) || 3000;
        let failures = 0;
        async function refresh() {
            if (document.hidden) return schedule(every);
            let fresh;
            try {
                const response = await fetch(window.location.href, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}});
                if (!response.ok) throw new Error(response.status);
                const page = new DOMParser().parseFromString(await response.text(), "text/html");
                fresh = page.getElementById("run-live");
                if (!fresh) throw new Error("no run on the page");
            } catch (error) {
                failures += 1;
                return schedule(Math.min(every * 2 ** failures, 60000));
            }
            failures = 0;
            const open = Array.from(live.querySelectorAll("details[open][id]"), (details) => details.id);
            live.replaceChildren(...fresh.childNodes);
            live.dataset.active = fresh.dataset.active;
            for (const id of open) {
                const details = document.getElementById(id);
                if (details) details.open = true;
            }
            setUpConfirm(live);
            if (live.dataset.active === "true") schedule(every);
            else live.dispatchEvent(new CustomEvent("run:finished", {bubbles: true}));
        }
        function schedule(delay) {
            window.setTimeout(refresh, delay);
        }
        schedule(every);
    }

    function ready() {
        document.body.classList.add("js");
        setUpTabs(document);
        setUpCopy(document);
        setUpConfirm(document);
        const live = document.getElementById("run-live");
        if (live && live.dataset.active === "true") follow(live);
    }

    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
    else ready();
}
