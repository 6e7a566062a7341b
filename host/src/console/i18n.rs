//! Spanish and English: the visitor's choice (a cookie set by the language switch), else the browser's
//! `Accept-Language`, else English. Every text is one line of [`TEXTS`] with both languages side by side,
//! so a text cannot be missing in one of them.

use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Es,
}

const COOKIE: &str = "gancho_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    fn parse(code: &str) -> Option<Lang> {
        match code.trim().get(..2)?.to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "es" => Some(Lang::Es),
            _ => None,
        }
    }

    /// The chosen language, else the first of the browser's that the console speaks.
    pub fn of(headers: &HeaderMap) -> Lang {
        if let Some(lang) = super::session::cookie(headers, COOKIE).and_then(Lang::parse) {
            return lang;
        }
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').find_map(|tag| Lang::parse(tag.split(';').next()?)))
            .unwrap_or(Lang::En)
    }

    /// The text for `key` in this language.
    pub fn t(self, key: &str) -> &'static str {
        match all_texts().find(|(k, _, _)| *k == key) {
            Some((_, en, es)) => match self {
                Lang::En => en,
                Lang::Es => es,
            },
            // Debug builds (the tests) fail loudly on a missing text; a release shows the key.
            None if cfg!(debug_assertions) => panic!("console text `{key}` is missing from TEXTS"),
            None => "?",
        }
    }

    /// The text for `key`, if there is one.
    pub fn try_t(self, key: &str) -> Option<&'static str> {
        all_texts().find(|(k, _, _)| *k == key).map(|(_, en, es)| match self {
            Lang::En => *en,
            Lang::Es => *es,
        })
    }

    /// The texts the pages' script needs (keys starting with `js.`), as a JSON object.
    pub fn script_texts(self) -> serde_json::Value {
        all_texts()
            .filter(|(key, _, _)| key.starts_with("js."))
            .map(|(key, _, _)| (key.to_string(), serde_json::Value::from(self.t(key))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

#[derive(Deserialize)]
pub struct Switch {
    to: String,
    back: Option<String>,
}

/// `/console/lang?to=es&back=/console/…`: remembers the choice for a year and goes back.
pub async fn switch(Query(switch): Query<Switch>) -> Response {
    let lang = Lang::parse(&switch.to).unwrap_or(Lang::En);
    let back = switch
        .back
        .filter(|back| back.starts_with("/console") && !back.contains("//") && !back.contains('\\'))
        .unwrap_or_else(|| "/console".to_owned());
    let cookie = format!("{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax", lang.code());
    let mut response = Redirect::to(&back).into_response();
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ascii"));
    response
}

/// Every text: the console's below, the portal's words in [`super::texts`].
fn all_texts() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    TEXTS
        .iter()
        .chain(super::texts::PORTAL.iter())
        .chain(super::connect::texts::CONNECT.iter())
        .chain(super::charts::texts::CHARTS.iter())
}

/// (key, English, Spanish).
const TEXTS: &[(&str, &str, &str)] = &[
    ("brand.portal", "Webhooks", "Webhooks"),
    ("brand.operator", "Operator console", "Consola del operador"),
    ("nav.subscriptions", "Webhooks", "Webhooks"),
    ("nav.deliveries", "Deliveries", "Entregas"),
    ("nav.plugins", "Plugins", "Plugins"),
    ("nav.connections", "Connections", "Conexiones"),
    ("nav.overview", "Overview", "Resumen"),
    ("nav.tenants", "Tenants", "Clientes"),
    ("nav.shared_plugins", "Shared plugins", "Plugins compartidos"),
    ("nav.sign_out", "Sign out", "Cerrar sesión"),
    ("nav.operator", "Operator", "Operador"),
    ("sign_in.title", "Sign in", "Iniciar sesión"),
    (
        "sign_in.lead",
        "Paste your tenant API key (gk_…) or the operator token.",
        "Pegue la clave de API de su cuenta (gk_…) o el token del operador.",
    ),
    ("sign_in.token", "Key or token", "Clave o token"),
    ("sign_in.submit", "Sign in", "Entrar"),
    (
        "sign_in.wrong",
        "This key or token is not valid. Check it and try again.",
        "Esta clave o token no es válido. Revíselo e intente de nuevo.",
    ),
    (
        "sign_in.too_many",
        "Too many failed sign-ins from this address. Try again in {secs} s.",
        "Demasiados intentos fallidos desde esta dirección. Intente de nuevo en {secs} s.",
    ),
    (
        "sign_in.cross_origin",
        "The sign-in form must be sent from this site.",
        "El formulario debe enviarse desde este sitio.",
    ),
    (
        "link.invalid",
        "This portal link has expired or is not valid. Open the portal again from your control panel.",
        "Este enlace al portal expiró o no es válido. Vuelva a abrir el portal desde su panel de control.",
    ),
    ("link.replace_title", "Switch portal?", "¿Cambiar de portal?"),
    (
        "link.replace_tenant",
        "This browser is signed in to the portal of",
        "Este navegador tiene abierta la sesión del portal de",
    ),
    (
        "link.replace_operator",
        "This browser is signed in to the operator console.",
        "Este navegador tiene abierta la sesión de la consola del operador.",
    ),
    (
        "link.replace_lead",
        "A link from another site would end that session and open the portal of",
        "Un enlace de otro sitio cerraría esa sesión y abriría el portal de",
    ),
    ("link.replace_continue", "Switch to this portal", "Cambiar a este portal"),
    ("link.replace_stay", "Stay signed in as I am", "Seguir con mi sesión"),
    ("error.title", "Something went wrong", "Algo salió mal"),
    ("error.back", "Back to the start", "Volver al inicio"),
    ("common.save", "Save", "Guardar"),
    ("common.create", "Create", "Crear"),
    ("common.delete", "Delete", "Eliminar"),
    ("common.edit", "Edit", "Editar"),
    ("common.name", "Name", "Nombre"),
    ("common.id", "Id", "Id"),
    ("common.created", "Created", "Creado"),
    ("common.status", "Status", "Estado"),
    ("common.none", "Nothing here yet.", "Todavía no hay nada aquí."),
    ("common.filter", "Filter", "Filtrar"),
    ("common.any", "any", "cualquiera"),
    ("common.from", "From", "Desde"),
    ("common.to", "To", "Hasta"),
    ("common.version", "Version", "Versión"),
    ("common.size", "Size", "Tamaño"),
    ("common.digest", "Digest", "Huella"),
    ("common.yes", "yes", "sí"),
    ("common.no", "no", "no"),
    ("subs.title", "Your webhooks", "Sus webhooks"),
    (
        "subs.lead",
        "Each webhook sends the events you choose to a system of yours (your CRM, a spreadsheet…), with the data you choose.",
        "Cada webhook envía los eventos que elija a un sistema suyo (su CRM, una planilla…), con los datos que elija.",
    ),
    ("subs.new", "New webhook", "Nuevo webhook"),
    ("subs.edit", "Webhook", "Webhook"),
    ("subs.events", "Events", "Eventos"),
    ("subs.plugin", "Plugin (what builds the request)", "Plugin (lo que arma la solicitud)"),
    ("subs.endpoint", "Address (URL) of your system", "Dirección (URL) de su sistema"),
    ("subs.enabled", "On", "Encendido"),
    ("subs.paused", "paused", "en pausa"),
    ("subs.disabled", "off", "apagado"),
    ("subs.active", "working", "funciona"),
    ("subs.rotate", "Rotate signing secret", "Rotar el secreto de firma"),
    (
        "subs.other_events",
        "Other event types your platform sends (comma-separated ids, e.g. chat.*)",
        "Otros tipos de evento que envía su plataforma (ids separados por comas, p. ej. chat.*)",
    ),
    ("subs.config", "Plugin configuration (JSON)", "Configuración del plugin (JSON)"),
    ("subs.deliveries", "Deliveries", "Entregas"),
    ("dr.title", "Dry run", "Prueba en seco"),
    (
        "dr.lead",
        "For a new version of this webhook's plugin: runs it next to the current one on past events and shows what would change, before anything is sent with it. Nothing is sent.",
        "Para una versión nueva del plugin de este webhook: la ejecuta junto a la actual sobre eventos pasados y muestra qué cambiaría, antes de enviar nada con ella. No se envía nada.",
    ),
    ("dr.version", "Candidate version", "Versión candidata"),
    ("dr.latest", "latest", "la última"),
    ("dr.last", "Last events", "Últimos eventos"),
    ("dr.start", "Start the dry run", "Iniciar la prueba"),
    ("js.dry_running", "Comparing events:", "Comparando eventos:"),
    ("js.dry_done", "Done:", "Terminada:"),
    ("js.dry_events", "events", "eventos"),
    ("js.dry_identical", "identical", "idénticos"),
    ("js.dry_changed", "changed", "cambiados"),
    ("js.dry_newly_failing", "newly failing", "que ahora fallan"),
    ("js.dry_newly_succeeding", "newly succeeding", "que ahora funcionan"),
    ("js.dry_still_failing", "still failing", "que siguen fallando"),
    ("ro.title", "Canary rollouts", "Despliegues canario"),
    (
        "ro.none",
        "None yet. A canary sends a share of the events with a new plugin version and goes back by itself if it fails more than the current one; your integrator starts one through the API.",
        "Ninguno todavía. Un canario envía una parte de los eventos con una versión nueva del plugin y vuelve atrás solo si falla más que la actual; lo inicia su integrador desde la API.",
    ),
    ("ro.versions", "Versions", "Versiones"),
    ("ro.figures", "Figures", "Cifras"),
    ("ro.reason", "Why it ended", "Por qué terminó"),
    ("ro.events", "events", "eventos"),
    ("ro.plugin_errors", "plugin errors", "errores del plugin"),
    ("ro.delivered", "delivered", "entregados"),
    ("ro.failures", "refused by the destination", "rechazados por el destino"),
    (
        "ro.kept_failures",
        "The candidate's failures, kept at the rollback",
        "Los fallos del candidato, guardados al revertir",
    ),
    ("tpl.title", "Template", "Plantilla"),
    ("tpl.format", "Body format", "Formato del cuerpo"),
    ("tpl.format.json", "JSON", "JSON"),
    ("tpl.format.text", "Plain text", "Texto plano"),
    ("tpl.format.form", "Form (like a web form)", "Formulario (como un formulario web)"),
    ("tpl.method", "Method", "Método"),
    (
        "tpl.url",
        "URL with event data (optional: the address above by default)",
        "URL con datos del evento (opcional: por defecto la dirección de arriba)",
    ),
    ("tpl.body", "Body template", "Plantilla del cuerpo"),
    (
        "tpl.variables",
        "Event data (click to insert where you are typing)",
        "Datos del evento (clic para insertar donde está escribiendo)",
    ),
    ("tpl.preview", "Preview", "Vista previa"),
    ("tpl.preview_on", "Preview on", "Vista previa con"),
    ("js.samples", "Sample events", "Eventos de ejemplo"),
    ("js.recent", "Your recent events", "Sus eventos recientes"),
    ("dl.title", "Deliveries", "Entregas"),
    ("dl.one", "Delivery", "Entrega"),
    ("status.pending", "pending", "pendiente"),
    ("status.succeeded", "succeeded", "entregada"),
    ("status.failed", "failed (will retry)", "fallida (se reintentará)"),
    ("status.dead", "dead (gave up)", "abandonada"),
    ("status.skipped", "not sent (conditions)", "no enviada (condiciones)"),
    ("status.plugin_error", "not built (webhook settings)", "no armada (configuración del webhook)"),
    ("dl.event", "Event", "Evento"),
    ("dl.subscription", "Webhook", "Webhook"),
    ("dl.attempts", "Attempts", "Intentos"),
    ("dl.request", "Request", "Solicitud"),
    ("dl.logs", "Plugin logs", "Registros del plugin"),
    ("dl.error", "Error", "Error"),
    ("dl.retry", "Retry", "Reintentar"),
    ("dl.at", "At", "Fecha"),
    ("dl.http", "HTTP", "HTTP"),
    ("dl.latency", "Latency", "Latencia"),
    ("dl.response", "Response", "Respuesta"),
    ("dl.next", "Next attempt", "Próximo intento"),
    ("dl.replay", "Replay a time range", "Reenviar un rango de tiempo"),
    (
        "dl.replay_lead",
        "The webhook's failed deliveries made between these times (your time) are sent again; those its settings could not build are built again with the current settings.",
        "Las entregas fallidas del webhook hechas entre estas horas (su hora) se envían de nuevo; las que su configuración no pudo armar se arman de nuevo con la configuración actual.",
    ),
    ("dl.replay_submit", "Replay", "Reenviar"),
    ("dl.none", "No deliveries match.", "Ninguna entrega coincide."),
    ("pl.title", "Your plugins", "Sus plugins"),
    ("pl.shared", "Shared plugins you may use", "Plugins compartidos que puede usar"),
    ("pl.upload", "Upload a version", "Subir una versión"),
    ("pl.file", "Plugin file (.wasm)", "Archivo del plugin (.wasm)"),
    ("pl.upload_submit", "Upload", "Subir"),
    ("conn.title", "Connections", "Conexiones"),
    (
        "conn.lead",
        "Credentials your subscriptions may use, sent only to their hosts. Secrets can be replaced, never read back.",
        "Credenciales que sus suscripciones pueden usar, enviadas solo a sus hosts. Los secretos se pueden reemplazar, nunca leer.",
    ),
    ("conn.new", "New connection", "Nueva conexión"),
    ("conn.kind", "Kind", "Tipo"),
    ("conn.hosts", "Hosts (comma-separated)", "Hosts (separados por comas)"),
    ("conn.header_name", "Header name", "Nombre del encabezado"),
    ("conn.header_value", "Header value (secret)", "Valor del encabezado (secreto)"),
    ("conn.username", "Username", "Usuario"),
    ("conn.password", "Password (secret)", "Contraseña (secreta)"),
    ("conn.last_used", "Last used", "Último uso"),
    ("conn.replace", "Replace the secret", "Reemplazar el secreto"),
    ("op.overview", "Overview", "Resumen"),
    ("op.events_in", "Events received", "Eventos recibidos"),
    ("op.deliveries", "Delivery attempts by outcome", "Intentos de entrega por resultado"),
    ("op.plugin_errors", "Plugin errors by version", "Errores de plugins por versión"),
    ("op.backlog", "Backlog", "Pendientes"),
    ("op.events_pending", "Events waiting for their plugins", "Eventos esperando sus plugins"),
    ("op.deliveries_pending", "Deliveries waiting for an attempt", "Entregas esperando un intento"),
    ("op.oldest", "Oldest waiting (seconds)", "El más antiguo en espera (segundos)"),
    (
        "op.from_metrics",
        "Since this instance started; the same figures as",
        "Desde que arrancó esta instancia; las mismas cifras que",
    ),
    ("op.tenants", "Tenants", "Clientes"),
    ("op.new_tenant", "New tenant", "Nuevo cliente"),
    ("op.tenant_id", "Id (as in the events' tenant field)", "Id (como en el campo tenant de los eventos)"),
    ("op.new_key", "New API key", "Nueva clave de API"),
    ("op.open_portal", "Open portal", "Abrir portal"),
    ("op.portal_link", "Portal link", "Enlace al portal"),
    ("op.send_sample", "Send a sample event", "Enviar un evento de ejemplo"),
    ("op.shared_plugins", "Shared plugins", "Plugins compartidos"),
    ("op.plugin_name", "Plugin name", "Nombre del plugin"),
    ("js.saving", "Saving…", "Guardando…"),
    ("js.saved", "Saved.", "Guardado."),
    ("js.failed", "The request failed", "La solicitud falló"),
    (
        "js.network",
        "The service could not be reached; check your connection and try again.",
        "No se pudo contactar al servicio; revise su conexión e intente de nuevo.",
    ),
    (
        "js.write_template",
        "Write the body template: the request it makes appears here.",
        "Escriba la plantilla del cuerpo: la solicitud que genera aparece aquí.",
    ),
    ("js.running", "Running the plugin…", "Ejecutando el plugin…"),
    (
        "js.preview_ok",
        "This is the exact request that would be sent:",
        "Esta es exactamente la solicitud que se enviaría:",
    ),
    (
        "js.preview_skipped",
        "The plugin sends nothing for this event.",
        "El plugin no envía nada para este evento.",
    ),
    ("js.preview_error", "The template has an error:", "La plantilla tiene un error:"),
    ("js.unknown_variable", "Unknown variable", "Variable desconocida"),
    ("js.uploading", "Uploading…", "Subiendo…"),
    (
        "js.compiling",
        "Uploaded; checking and compiling the plugin…",
        "Subido; verificando y compilando el plugin…",
    ),
    ("js.uploaded", "Stored as version", "Guardado como versión"),
    (
        "js.upload_existing",
        "These bytes are already the latest version:",
        "Estos bytes ya son la última versión:",
    ),
    (
        "js.upload_following",
        "Running it now, for every new event (they follow the latest version; pin one and use a canary to roll out gradually):",
        "Ya la ejecutan, para cada evento nuevo (siguen la última versión; fije una y use un canario para desplegar de a poco):",
    ),
    (
        "js.secret_once",
        "The signing secret, shown only now:",
        "El secreto de firma, que solo se muestra ahora:",
    ),
    ("js.key_once", "The API key, shown only now:", "La clave de API, que solo se muestra ahora:"),
    (
        "js.link_once",
        "Portal link (valid for 5 minutes, for this tenant only):",
        "Enlace al portal (válido 5 minutos, solo para este cliente):",
    ),
    ("js.retry_queued", "Queued for another attempt.", "En cola para otro intento."),
    ("js.replayed", "Deliveries due again:", "Entregas pendientes de nuevo:"),
    ("js.event_sent", "Event accepted:", "Evento aceptado:"),
    ("js.confirm_delete", "Delete it? This cannot be undone.", "¿Eliminarlo? No se puede deshacer."),
    ("js.pick_file", "Choose a .wasm file first.", "Primero elija un archivo .wasm."),
    ("js.pick_event", "Choose at least one event type.", "Elija al menos un tipo de evento."),
    ("js.invalid_json", "This is not valid JSON", "Esto no es JSON válido"),
    ("js.suggest_call", "Suggested for calls: call.id", "Sugerido para llamadas: call.id"),
    (
        "js.suggest_chat",
        "Suggested for chats: chat.id (or contact.id for all of a contact's chats)",
        "Sugerido para chats: chat.id (o contact.id para todos los chats de un contacto)",
    ),
    ("lanes.title", "Delivery order", "Orden de entrega"),
    ("dest.paused", "paused until", "en pausa hasta"),
    ("dest.paced", "paced by its limit", "al ritmo de su límite"),
    ("lanes.key", "Keep in order per", "Mantener el orden por"),
    ("lanes.unordered", "No order (fastest)", "Sin orden (lo más rápido)"),
    (
        "lanes.key.call",
        "each call's START, TALK and END in order",
        "START, TALK y END de cada llamada en orden",
    ),
    ("lanes.key.chat", "each chat's events in order", "los eventos de cada chat en orden"),
    ("lanes.key.contact", "each contact's events in order", "los eventos de cada contacto en orden"),
    ("lanes.key.tenant", "all events one at a time", "todos los eventos de a uno"),
    ("lanes.own", "Another field of the event…", "Otro campo del evento…"),
    (
        "lanes.cost",
        "Events with the same value are delivered one at a time, in the order they arrived; if one keeps failing, only those behind it wait (other calls or chats go on), and after the hold limit it is set aside so the rest can go.",
        "Los eventos con el mismo valor se entregan de a uno, en el orden en que llegaron; si uno sigue fallando, solo esperan los que vienen detrás (las demás llamadas o chats siguen), y pasado el límite de espera se aparta para que sigan los demás.",
    ),
    ("lanes.max_hold", "Hold limit", "Límite de espera"),
    ("lanes.flowing", "all flowing", "todo fluye"),
    ("lanes.blocked", "held by a failing delivery", "retenidos por una entrega que falla"),
    ("lanes.waiting", "deliveries waiting behind them", "entregas esperando detrás"),
    ("lanes.oldest", "Held longest", "Retenido desde hace más tiempo"),
    (
        "lanes.see_holding",
        "See the failing deliveries that hold them",
        "Ver las entregas que fallan y los retienen",
    ),
    (
        "lanes.retry_note",
        "Retrying a dead delivery by hand sends it on its own: the ones behind it have already gone on.",
        "Reintentar a mano una entrega muerta la envía por su cuenta: las que venían detrás ya siguieron.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_language_is_followed_unless_one_was_chosen() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("fr-FR, es-AR;q=0.8, en;q=0.5"));
        assert_eq!(Lang::of(&headers), Lang::Es);
        headers.insert(header::COOKIE, HeaderValue::from_static("gancho_lang=en"));
        assert_eq!(Lang::of(&headers), Lang::En);
        assert_eq!(Lang::of(&HeaderMap::new()), Lang::En);
    }

    #[test]
    fn every_key_is_there_once() {
        let mut keys: Vec<&str> = all_texts().map(|(key, _, _)| *key).collect();
        keys.sort_unstable();
        let count = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), count, "a key is listed twice");
    }
}
