/* actas console: passkey ceremonies. A form marked data-passkey="create" or "get" has a
   button marked data-passkey-go: a click posts for the ceremony's options (with the form's
   CSRF token), asks the browser's WebAuthn API, puts the JSON response in the form's hidden
   field (data-passkey-field) and submits the form as usual. All checks are on the server. */
(function () {
  "use strict";

  function fail(form, text) {
    var box = form.querySelector("[data-passkey-error]");
    if (box) {
      box.textContent = text;
      box.hidden = false;
    }
  }

  function options(form) {
    var token = form.querySelector('input[name="csrf_token"]');
    var body = new URLSearchParams();
    body.set("csrf_token", token ? token.value : "");
    return fetch(form.getAttribute("data-passkey-options"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (answer) {
      return answer.json().catch(function () { return {}; }).then(function (data) {
        if (!answer.ok) { throw new Error(data.detail || "The console refused to start."); }
        return data;
      });
    });
  }

  function ceremony(kind, data) {
    if (kind === "create") {
      return navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(data)
      });
    }
    return navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(data)
    });
  }

  function run(form) {
    var kind = form.getAttribute("data-passkey");
    return options(form).then(function (data) {
      return ceremony(kind, data);
    }).then(function (credential) {
      var field = form.querySelector('input[name="' + form.getAttribute("data-passkey-field") + '"]');
      field.value = JSON.stringify(credential.toJSON());
      // The passkey replaces the code: the code field must not block the submission.
      form.querySelectorAll("[data-code]").forEach(function (input) {
        input.required = false;
        input.value = "";
      });
      form.requestSubmit();
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-passkey-go]") : null;
    if (!button) { return; }
    var form = button.closest("form[data-passkey]");
    if (!form) { return; }
    event.preventDefault();
    if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) {
      fail(form, "This browser cannot use passkeys here; use another way.");
      return;
    }
    run(form).catch(function (error) {
      var why = error && error.name === "NotAllowedError" ? "it was cancelled or timed out" :
        (error && error.message) || "it failed";
      fail(form, "The passkey was not used: " + why);
    });
  });
})();
