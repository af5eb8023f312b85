"use strict";
// Makes the sections of a form (ActionAdmin.sections) tabs: one section shows at a time, chosen by its tab.
// Markup: [data-form-sections] holds a hidden [data-section-tabs] with a button [data-section-tab="slug"] per
// section, and a section[data-section="slug"] each ([data-open] on the one the page opens: the first with an
// error). Tabs follow the WAI-ARIA tabs pattern: arrow keys, Home and End move between them. A link to an
// element inside a section (the error summary's, a #hash in the address) opens its section first. The
// section last chosen on a page is opened again when it is shown again without errors (Save and continue).
// Without this script every section shows, one below the other, each under its heading.
{
    function setUp(container) {
        const tabList = container.querySelector("[data-section-tabs]");
        const tabs = Array.from(tabList.querySelectorAll("[data-section-tab]"));
        const panels = new Map(Array.from(container.querySelectorAll("section[data-section]"),
            (panel) => [panel.dataset.section, panel]));
        const storageKey = `form-section:${window.location.pathname}`;

        tabList.setAttribute("role", "tablist");
        tabList.setAttribute("aria-label", "Sections of the form");
        for (const tab of tabs) {
            tab.setAttribute("role", "tab");
            const panel = panels.get(tab.dataset.sectionTab);
            panel.setAttribute("role", "tabpanel");
            panel.setAttribute("aria-labelledby", tab.id);
        }

        function select(slug, {focus = false, remember = true} = {}) {
            for (const tab of tabs) {
                const selected = tab.dataset.sectionTab === slug;
                tab.setAttribute("aria-selected", String(selected));
                tab.tabIndex = selected ? 0 : -1;
                panels.get(tab.dataset.sectionTab).hidden = !selected;
                if (selected && focus) {
                    tab.focus();
                }
            }
            if (remember) {
                try {
                    window.sessionStorage.setItem(storageKey, slug);
                } catch (error) {
                    // Storage refused (private mode, quota): the page opens its default section next time.
                }
            }
        }

        function sectionOf(element) {
            const panel = element && element.closest("section[data-section]");
            return panel && container.contains(panel) ? panel.dataset.section : null;
        }

        function targetOf(hash) {
            if (!hash || hash === "#") {
                return null;
            }
            try {
                return document.getElementById(decodeURIComponent(hash.slice(1)));
            } catch (error) {
                return null;
            }
        }

        tabList.addEventListener("click", (event) => {
            const tab = event.target.closest("[data-section-tab]");
            if (tab) {
                select(tab.dataset.sectionTab);
            }
        });
        tabList.addEventListener("keydown", (event) => {
            const index = tabs.indexOf(document.activeElement);
            if (index < 0) {
                return;
            }
            const moves = {
                ArrowRight: (index + 1) % tabs.length,
                ArrowLeft: (index - 1 + tabs.length) % tabs.length,
                Home: 0,
                End: tabs.length - 1,
            };
            if (event.key in moves) {
                event.preventDefault();
                select(tabs[moves[event.key]].dataset.sectionTab, {focus: true});
            }
        });
        // A link to something in a hidden section (the error summary's) opens that section before the browser
        // follows it, so that it scrolls to the field.
        document.addEventListener("click", (event) => {
            const link = event.target.closest("a[href^='#']");
            const slug = link && sectionOf(targetOf(link.getAttribute("href")));
            if (slug) {
                select(slug);
            }
        });
        window.addEventListener("hashchange", () => {
            const slug = sectionOf(targetOf(window.location.hash));
            if (slug) {
                select(slug);
            }
        });

        const withErrors = container.querySelector("section[data-section].has-errors");
        let stored = null;
        try {
            stored = window.sessionStorage.getItem(storageKey);
        } catch (error) {
            stored = null;
        }
        const opened = sectionOf(targetOf(window.location.hash))
            || (withErrors && withErrors.dataset.section)
            || (panels.has(stored) && stored)
            || (container.querySelector("section[data-section][data-open]") || panels.values().next().value)
                .dataset.section;
        select(opened, {remember: false});
        tabList.hidden = false;
        container.classList.add("tabbed");
        const target = targetOf(window.location.hash);
        if (target) {
            target.scrollIntoView();
        }
    }

    function init() {
        for (const container of document.querySelectorAll("[data-form-sections]")) {
            setUp(container);
        }
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", init);
    } else {
        init();
    }
}
