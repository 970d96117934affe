// The confirmation dialog before a change (retry, cancel, pause, resume, bulk actions, a
// queue's limits, a new key). A native <dialog>
// opened with showModal() makes the rest of the page inert; Tab is also kept inside by hand
// (so focus never leaves for the browser's toolbar), Escape closes it, and focus goes back to
// the button that opened it. The action runs inside the dialog: an error stays on screen in it.
import { fill, h } from "./dom.js";
import { t } from "./i18n.js";

const FOCUSABLE = "button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), textarea, [tabindex]:not([tabindex='-1'])";

/**
 * Asks to confirm, then runs `action()`. Resolves with the action's value, or null when the
 * person went back. While the action runs the buttons are disabled; if it throws, its message
 * is shown in the dialog, which stays open.
 *
 * `body` is text or nodes; `note` an optional second paragraph; `content` optional blocks
 * after them (a form's fields: Enter in a field confirms, and the first field has focus).
 * Without `action` the dialog only tells something and offers Close (it resolves with null);
 * `closeLabel` renames that button. `sticky` keeps a click outside from closing it (a secret
 * shown once). `opener` is where focus goes back to (by default whatever had it).
 */
export function confirmDialog({
  title, body, note, content, confirmLabel, closeLabel, danger = false, sticky = false, action,
  opener = document.activeElement,
}) {
  return new Promise((resolve) => {
    const errorBox = h("div", { class: "modal__error", role: "alert", hidden: true });
    const cancelBtn = h("button", { type: "button", class: "btn", dataset: { modal: "cancel" } },
      closeLabel || (action ? t("modal.back") : t("modal.close")));
    const okBtn = action ? h("button", {
      type: "button", class: danger ? "btn btn--danger" : "btn btn--primary", dataset: { modal: "confirm" },
    }, confirmLabel) : null;
    const titleId = "modal-title-" + Math.random().toString(36).slice(2);
    const bodyId = titleId + "-body";
    const noteId = titleId + "-note";
    const dialog = h("dialog", {
      class: "modal", "aria-labelledby": titleId, "aria-describedby": [body ? bodyId : null, note ? noteId : null].filter(Boolean).join(" ") || null,
    },
      h("h2", { class: "modal__title", id: titleId }, title),
      body ? h("p", { class: "modal__body", id: bodyId }, body) : null,
      note ? h("p", { class: "modal__note", id: noteId }, note) : null,
      content ? h("div", { class: "modal__content" }, content) : null,
      errorBox,
      h("div", { class: "modal__actions" }, cancelBtn, okBtn));

    let result = null;
    let busy = false;
    const close = () => {
      if (busy) return;
      dialog.close();
    };
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && document.contains(opener)) opener.focus();
      resolve(result);
    });
    // Escape: the browser fires `cancel`; while the action runs, it waits.
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault();
      close();
    });
    dialog.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        close();
        return;
      }
      if (e.key === "Enter" && okBtn && !okBtn.disabled && e.target.matches("input:not([type=checkbox]):not([type=radio]), select")) {
        e.preventDefault();
        okBtn.click();
        return;
      }
      if (e.key !== "Tab") return;
      const items = [...dialog.querySelectorAll(FOCUSABLE)];
      if (!items.length) return;
      const first = items[0], last = items[items.length - 1];
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    });
    // A click on the backdrop (outside the box) goes back, like Escape.
    dialog.addEventListener("click", (e) => {
      if (e.target !== dialog || sticky) return;
      const r = dialog.getBoundingClientRect();
      const inside = e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom;
      if (!inside) close();
    });
    cancelBtn.addEventListener("click", close);
    okBtn?.addEventListener("click", async () => {
      busy = true;
      okBtn.disabled = cancelBtn.disabled = true;
      okBtn.classList.add("is-busy");
      errorBox.hidden = true;
      try {
        result = await action();
        busy = false;
        dialog.close();
      } catch (err) {
        busy = false;
        okBtn.disabled = cancelBtn.disabled = false;
        okBtn.classList.remove("is-busy");
        fill(errorBox,
          h("span", {}, err.message || String(err)),
          err.code ? h("code", { class: "banner__code" }, err.code) : null);
        errorBox.hidden = false;
        // A form stays to be corrected, at the field the error is about; anything else is done.
        const field = content && dialog.querySelector(".modal__content [aria-invalid=true]");
        if (field) {
          field.focus();
        } else {
          cancelBtn.textContent = t("modal.close");
          cancelBtn.focus();
        }
      }
    });

    document.body.append(dialog);
    dialog.showModal();
    (content && dialog.querySelector(".modal__content input, .modal__content select") || cancelBtn).focus();
  });
}
