// The runs list: the rows of active runs follow their runs by themselves. Every 2 s it asks the list's live
// endpoint about the runs still active on the page and updates their status, reason, requests and duration in place;
// it stops when none is active, waits longer after each failed request, and asks nothing while the tab is hidden.
"use strict";
{
    const EVERY = 2000;
    const MOST = 60000;

    function activeIds() {
        return Array.from(document.querySelectorAll("#result_list [data-run-live]"), (badge) => badge.dataset.runLive);
    }

    function update(id, run) {
        const badge = document.querySelector(`#result_list [data-run-live="${id}"]`);
        if (!badge) return;
        badge.className = `run-status ${run.css}`;
        badge.textContent = run.label;
        if (run.title) badge.title = run.title;
        else badge.removeAttribute("title");
        if (!run.active) delete badge.dataset.runLive;
        const requests = document.querySelector(`#result_list [data-run-requests="${id}"]`);
        if (requests) requests.textContent = String(run.requests);
        const duration = document.querySelector(`#result_list [data-run-duration="${id}"]`);
        if (duration) duration.textContent = run.duration;
        const reason = document.querySelector(`#result_list [data-run-reason="${id}"]`);
        if (reason) {
            reason.textContent = run.reason_short;
            reason.title = run.reason;
        }
    }

    function follow(endpoint) {
        let failures = 0;
        let timer = null;
        async function refresh() {
            timer = null;
            if (document.hidden) return;  // visibilitychange starts it again
            const ids = activeIds();
            if (!ids.length) return;
            const query = new URLSearchParams(ids.map((id) => ["id", id]));
            let answer;
            try {
                const response = await fetch(`${endpoint}?${query}`, {credentials: "same-origin", headers: {"Accept": "application/json"}});
                if (!response.ok) throw new Error(response.status);
                answer = await response.json();
            } catch (error) {
                failures += 1;
                return schedule(Math.min(EVERY * 2 ** failures, MOST));
            }
            failures = 0;
            for (const [id, run] of Object.entries(answer.runs)) update(id, run);
            // A run no longer found (pruned, or not visible to this user) is not asked about again.
            for (const id of ids) {
                if (id in answer.runs) continue;
                const badge = document.querySelector(`#result_list [data-run-live="${id}"]`);
                if (badge) delete badge.dataset.runLive;
            }
            if (activeIds().length) schedule(EVERY);
            else document.dispatchEvent(new CustomEvent("runs:settled"));
        }
        function schedule(delay) {
            if (timer === null) timer = window.setTimeout(refresh, delay);
        }
        document.addEventListener("visibilitychange", () => {
            if (!document.hidden) schedule(EVERY);
        });
        schedule(EVERY);
    }

    // On a phone the filter sits above the rows (runs.css): its sections start folded, unless the person
    // opened one (django's filters.js remembers that in sessionStorage).
    function foldFilters() {
        if (!window.matchMedia("(max-width: 767px)").matches) return;
        const remembered = JSON.parse(window.sessionStorage.getItem("django.admin.filtersState") || "{}");
        for (const details of document.querySelectorAll("#changelist-filter details[data-filter-title]")) {
            if (!remembered[details.dataset.filterTitle]) details.removeAttribute("open");
        }
    }

    function ready() {
        foldFilters();
        const list = document.getElementById("result_list");
        if (!list || !activeIds().length) return;
        follow(new URL("live/", window.location.href).pathname);  // the list's URL without its filters
    }

    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
    else ready();
}
