// kiln console: conveniences on top of pages that work without scripts.
//
// - A form with data-dialog="ID" opens <dialog id=ID> instead of loading
//   the page that holds the same form.
// - A form with data-confirm-title asks in the shared confirm dialog, which
//   posts to the form's address; without scripts the form loads a
//   confirmation page instead.
// - A dialog with data-modal is opened as a modal (it is rendered open, so
//   it also shows without scripts).
// - Copy buttons (hidden until this script shows them) copy a field.
// - A form with data-done leaves a page that shows a secret: the value is
//   cleared and the page is replaced in history, so Back cannot bring the
//   secret back. A dialog with data-done-on-cancel does the same on Escape.
// - A form with data-upload-progress sends its file in the background,
//   showing how much is sent in its [data-progress] element, then shows
//   the page the server answers with (the listing, or the form with its
//   error) in place of <main>. Without scripts it is an ordinary post.
// - A table too wide for the screen scrolls in its .table-wrap, which then
//   becomes a Tab stop named by the table's caption, so that keyboard
//   users can scroll it with the arrow keys.
"use strict";

(function () {
  function leave(form) {
    document.querySelectorAll("[data-secret]").forEach(function (el) { el.value = ""; });
    window.location.replace(form.action);
  }

  function openConfirm(form) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      return false;
    }
    var params = new URLSearchParams(new FormData(form)).toString();
    var post = dialog.querySelector("form");
    post.action = form.action.split("?")[0] + (params ? "?" + params : "");
    document.getElementById("confirm-dialog-title").textContent = form.dataset.confirmTitle;
    document.getElementById("confirm-dialog-text").textContent = form.dataset.confirmText || "";
    var submit = document.getElementById("confirm-dialog-submit");
    submit.className = form.dataset.confirmDanger ? "danger" : "primary";
    dialog.showModal();
    return true;
  }

  // showAnswer puts the page in xhr's answer in place of this one's main
  // content and title, at the address it came from.
  function showAnswer(xhr) {
    var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
    var main = doc.getElementById("main");
    if (!main) {
      window.location.assign(xhr.responseURL || window.location.href);
      return;
    }
    document.title = doc.title;
    document.getElementById("main").replaceWith(main);
    markScrollers();
    if (xhr.responseURL) {
      window.history.replaceState(null, "", xhr.responseURL);
    }
    main.focus();
  }

  function uploadWithProgress(form) {
    var box = form.querySelector("[data-progress]");
    if (!box || typeof FormData !== "function" || typeof XMLHttpRequest !== "function") {
      return false;
    }
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-progress-text]");
    var submit = form.querySelector("button[type=submit]");
    var show = function (percent) {
      bar.value = percent;
      text.textContent = "Uploading… " + percent + "%";
    };
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        show(Math.floor(e.loaded * 100 / e.total));
      }
    });
    xhr.addEventListener("load", function () { showAnswer(xhr); });
    xhr.addEventListener("error", function () {
      submit.disabled = false;
      text.textContent = "The upload failed: check your connection and try again.";
    });
    box.hidden = false;
    submit.disabled = true;
    show(0);
    xhr.send(new FormData(form));
    return true;
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement)) {
      return;
    }
    if (form.hasAttribute("data-upload-progress")) {
      if (uploadWithProgress(form)) {
        e.preventDefault();
      }
    } else if (form.dataset.dialog) {
      var dialog = document.getElementById(form.dataset.dialog);
      if (dialog && typeof dialog.showModal === "function") {
        e.preventDefault();
        dialog.showModal();
      }
    } else if (form.dataset.confirmTitle) {
      if (openConfirm(form)) {
        e.preventDefault();
      }
    } else if (form.hasAttribute("data-done")) {
      e.preventDefault();
      leave(form);
    }
  });

  document.addEventListener("click", function (e) {
    var close = e.target.closest("[data-close]");
    if (close && close.closest("dialog")) {
      e.preventDefault();
      close.closest("dialog").close();
      return;
    }
    var copy = e.target.closest("[data-copy]");
    if (copy) {
      var field = document.getElementById(copy.dataset.copy);
      var status = copy.closest(".field").querySelector("[data-copy-status]");
      var done = function () { if (status) { status.textContent = "Copied to the clipboard."; } };
      var fallback = function () {
        field.focus();
        field.select();
        try {
          if (document.execCommand("copy")) { done(); return; }
        } catch (err) { /* fall through */ }
        if (status) { status.textContent = "Press Ctrl+C (or ⌘C) to copy the selected text."; }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, fallback);
      } else {
        fallback();
      }
    }
  });

  document.querySelectorAll("[data-copy]").forEach(function (b) { b.hidden = false; });

  document.querySelectorAll("dialog[data-modal]").forEach(function (dialog) {
    if (typeof dialog.showModal !== "function") {
      return;
    }
    if (dialog.open) {
      dialog.close();
    }
    dialog.showModal();
    var secret = dialog.querySelector("[data-secret]");
    if (secret) {
      secret.focus();
      secret.select();
    }
    if (dialog.hasAttribute("data-done-on-cancel")) {
      dialog.addEventListener("cancel", function (e) {
        e.preventDefault();
        var done = dialog.querySelector("form[data-done]");
        if (done) {
          leave(done);
        }
      });
    }
  });

  // A secret field selects itself when focused, ready to copy by hand.
  document.querySelectorAll("[data-secret]").forEach(function (el) {
    el.addEventListener("focus", function () { el.select(); });
  });

  function markScrollers() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        var caption = wrap.querySelector("caption");
        wrap.tabIndex = 0;
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", caption ? caption.textContent.trim() : "Table");
      } else if (wrap.hasAttribute("role")) {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
      }
    });
  }
  markScrollers();
  window.addEventListener("resize", markScrollers);
})();
