//! The customer's words for the event catalog: each event type's name and a one-line description with an
//! example, each field's label and each enum value's label, in Spanish and English. The API names things in
//! English only (`call.ended`, `call.status`, `missed`); the portal shows these words, with the id small
//! beside them for integrators. Also the service's catalog (`GET …/event-types`) as the editor's script
//! needs it: the tenant's event types with their samples, fields, field types and enum values, labelled.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::i18n::Lang;

/// One event type of the catalog, as `GET /v1/tenants/{t}/event-types` describes it (what the portal reads
/// of it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventType {
    #[serde(rename = "type")]
    pub id: String,
    #[serde(default)]
    pub platform: String,
    /// The sample envelope (without `tenant`).
    #[serde(default)]
    pub sample: Value,
    #[serde(default)]
    pub fields: Vec<Field>,
}

/// A field of an event type's data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Field {
    pub path: String,
    /// `string`, `number`, `boolean`, `object` or `array`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The values it takes, when it is an enum.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// (type, English name, Spanish name, English description, Spanish description).
const TYPES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "call.started",
        "Call started (START)",
        "Llamada iniciada (START)",
        "A call begins ringing, before anyone answers. E.g. +54 9 11 5555-1234 calls the Support line.",
        "Empieza a sonar una llamada, antes de que alguien atienda. Ej.: +54 9 11 5555-1234 llama a Soporte.",
    ),
    (
        "call.answered",
        "Call answered (TALK)",
        "Llamada atendida (TALK)",
        "Someone picks up and the conversation starts. E.g. Martín Ruiz answers Juan Gómez's call.",
        "Alguien atiende y empieza la conversación. Ej.: Martín Ruiz atiende la llamada de Juan Gómez.",
    ),
    (
        "call.ended",
        "Call ended (END)",
        "Llamada finalizada (END)",
        "A call ends, answered or missed, with its duration and cost. E.g. 2 min 14 s, ARS 12.50.",
        "Termina una llamada, atendida o perdida, con su duración y su costo. Ej.: 2 min 14 s, ARS 12,50.",
    ),
    (
        "call.recording_ready",
        "Recording ready",
        "Grabación disponible",
        "A call's recording can be listened to. E.g. a link to the audio of the 2 min 14 s call.",
        "La grabación de una llamada ya se puede escuchar. Ej.: el enlace al audio de la llamada de 2 min 14 s.",
    ),
    (
        "chat.closed",
        "Chat closed",
        "Chat cerrado",
        "A chat (WhatsApp, web chat…) is closed, with its messages. E.g. Lucía closes Juan's sales chat.",
        "Se cierra un chat (WhatsApp, chat web…), con sus mensajes. Ej.: Lucía cierra el chat de ventas de Juan.",
    ),
    (
        "chat.exported",
        "Chat sent manually",
        "Chat enviado manualmente",
        "An agent presses \"send\" on a chat, open or closed. E.g. Lucía sends Ana's support chat.",
        "Un agente presiona \"enviar\" en un chat, abierto o cerrado. Ej.: Lucía envía el chat de soporte de Ana.",
    ),
    (
        "template.quick_reply",
        "Quick reply clicked",
        "Clic en respuesta rápida",
        "A contact clicks a button of a template message. E.g. Juan clicks \"Confirmar\" on his appointment.",
        "Un contacto hace clic en un botón de un mensaje de plantilla. Ej.: Juan pulsa \"Confirmar\" en su cita.",
    ),
];

/// (field path, English, Spanish).
const FIELDS: &[(&str, &str, &str)] = &[
    ("event.type", "Event type", "Tipo de evento"),
    ("event.id", "Event id", "Id del evento"),
    ("event.timestamp", "Event time", "Hora del evento"),
    ("event.tenant", "Account", "Cuenta"),
    ("call", "Call", "Llamada"),
    ("chat", "Chat", "Chat"),
    ("template", "Template message", "Mensaje de plantilla"),
    ("button", "Button", "Botón"),
    ("exported_by", "Sent by", "Enviado por"),
    ("call.id", "Call id", "Id de la llamada"),
    ("call.direction", "Direction", "Dirección"),
    ("call.from", "Number", "Número"),
    ("call.to", "Number called", "Número llamado"),
    ("call.caller_name", "Caller's name", "Nombre de quien llama"),
    ("call.extension", "Extension", "Interno"),
    ("call.agent", "Agent", "Agente"),
    ("call.agent.id", "Agent id", "Id del agente"),
    ("call.agent.name", "Agent's name", "Nombre del agente"),
    ("call.queue", "Queue", "Cola"),
    ("call.started_at", "Started at", "Hora de inicio"),
    ("call.answered_at", "Answered at", "Hora de atención"),
    ("call.ended_at", "Ended at", "Hora de fin"),
    ("call.duration_s", "Duration (s)", "Duración (s)"),
    ("call.billable_s", "Billable time (s)", "Tiempo facturable (s)"),
    ("call.cost", "Cost", "Costo"),
    ("call.cost.amount", "Cost", "Costo"),
    ("call.cost.currency", "Currency", "Moneda"),
    ("call.status", "Call status", "Estado de la llamada"),
    ("call.hangup_by", "Hung up by", "Cortó"),
    ("call.recording_url", "Recording link", "Enlace a la grabación"),
    ("chat.id", "Chat id", "Id del chat"),
    ("chat.channel", "Channel", "Canal"),
    ("chat.department", "Department", "Departamento"),
    ("chat.agent", "Agent", "Agente"),
    ("chat.agent.id", "Agent id", "Id del agente"),
    ("chat.agent.name", "Agent's name", "Nombre del agente"),
    ("chat.agent.email", "Agent's e-mail", "E-mail del agente"),
    ("chat.opened_at", "Opened at", "Hora de apertura"),
    ("chat.closed_at", "Closed at", "Hora de cierre"),
    ("chat.closed_by", "Closed by", "Cerrado por"),
    ("chat.tags", "Tags", "Etiquetas"),
    ("chat.viewer_url", "Chat link", "Enlace al chat"),
    ("chat.messages", "Messages", "Mensajes"),
    ("contact", "Contact", "Contacto"),
    ("contact.id", "Contact id", "Id del contacto"),
    ("contact.name", "Contact's name", "Nombre del contacto"),
    ("contact.phone", "Contact's phone", "Teléfono del contacto"),
    ("contact.email", "Contact's e-mail", "E-mail del contacto"),
    ("contact.identification", "Identification", "Documento"),
    ("contact.custom_fields", "Custom fields", "Campos propios"),
    ("exported_by.id", "Sent by (id)", "Enviado por (id)"),
    ("exported_by.name", "Sent by", "Enviado por"),
    ("template.name", "Template", "Plantilla"),
    ("template.language", "Template language", "Idioma de la plantilla"),
    ("template.body", "Template text", "Texto de la plantilla"),
    ("template.parameters", "Template values", "Valores de la plantilla"),
    ("button.text", "Button", "Botón"),
    ("button.payload", "Button code", "Código del botón"),
    ("message_id", "Message id", "Id del mensaje"),
    ("clicked_at", "Clicked at", "Hora del clic"),
];

/// (field path, value, English, Spanish): the enum values' words.
const VALUES: &[(&str, &str, &str, &str)] = &[
    ("call.status", "ringing", "ringing", "sonando"),
    ("call.status", "answered", "answered", "atendida"),
    ("call.status", "missed", "missed", "perdida"),
    ("call.status", "busy", "busy", "ocupado"),
    ("call.status", "failed", "failed", "fallida"),
    ("call.status", "voicemail", "voicemail", "buzón de voz"),
    ("call.direction", "inbound", "inbound", "entrante"),
    ("call.direction", "outbound", "outbound", "saliente"),
    ("call.direction", "internal", "internal", "interna"),
    ("call.hangup_by", "caller", "the caller", "quien llamó"),
    ("call.hangup_by", "agent", "the agent", "el agente"),
    ("chat.closed_by", "agent", "the agent", "el agente"),
    ("chat.closed_by", "contact", "the contact", "el contacto"),
    ("chat.closed_by", "system", "the system", "el sistema"),
    ("chat.closed_by", "timeout", "inactivity", "inactividad"),
];

/// (field, English row name, Spanish row name).
type StarterRow = (&'static str, &'static str, &'static str);

/// (type, its rows): the rows a body starts with for that event.
const STARTERS: &[(&str, &[StarterRow])] = &[
    (
        "call.started",
        &[
            ("call.from", "number", "numero"),
            ("call.caller_name", "name", "nombre"),
            ("call.started_at", "started_at", "inicio"),
        ],
    ),
    (
        "call.answered",
        &[
            ("call.from", "number", "numero"),
            ("call.caller_name", "name", "nombre"),
            ("call.agent.name", "agent", "agente"),
        ],
    ),
    (
        "call.ended",
        &[
            ("call.from", "number", "numero"),
            ("call.caller_name", "name", "nombre"),
            ("call.duration_s", "duration", "duracion"),
            ("call.cost.amount", "cost", "costo"),
            ("call.status", "status", "estado"),
        ],
    ),
    (
        "call.recording_ready",
        &[("call.from", "number", "numero"), ("call.recording_url", "recording", "grabacion")],
    ),
    (
        "chat.closed",
        &[
            ("contact.name", "name", "nombre"),
            ("contact.phone", "phone", "telefono"),
            ("chat.agent.name", "agent", "agente"),
            ("chat.viewer_url", "chat", "chat"),
        ],
    ),
    (
        "chat.exported",
        &[
            ("contact.name", "name", "nombre"),
            ("chat.viewer_url", "chat", "chat"),
            ("exported_by.name", "sent_by", "enviado_por"),
        ],
    ),
    (
        "template.quick_reply",
        &[
            ("contact.name", "name", "nombre"),
            ("contact.phone", "phone", "telefono"),
            ("button.text", "button", "boton"),
        ],
    ),
];

fn pick(lang: Lang, en: &'static str, es: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Es => es,
    }
}

/// An event type's name in her words (`Llamada finalizada (END)`), or the id for a type of one's own.
pub fn type_name(lang: Lang, id: &str) -> String {
    TYPES
        .iter()
        .find(|row| row.0 == id)
        .map_or_else(|| id.to_owned(), |row| pick(lang, row.1, row.2).to_owned())
}

/// A pattern's name: a catalog type's, `Todas las llamadas` for `call.*`, else the pattern itself.
pub fn pattern_name(lang: Lang, pattern: &str) -> String {
    match pattern {
        "*" => pick(lang, "All events", "Todos los eventos").to_owned(),
        "call.*" => pick(lang, "All call events", "Todos los eventos de llamadas").to_owned(),
        "chat.*" => pick(lang, "All chat events", "Todos los eventos de chats").to_owned(),
        _ => type_name(lang, pattern),
    }
}

fn type_description(lang: Lang, id: &str) -> Option<&'static str> {
    TYPES.iter().find(|row| row.0 == id).map(|row| pick(lang, row.3, row.4))
}

/// A field's label (`Estado de la llamada`), if the catalog has one.
pub fn field_label(lang: Lang, path: &str) -> Option<&'static str> {
    FIELDS.iter().find(|row| row.0 == path).map(|row| pick(lang, row.1, row.2))
}

fn value_label(lang: Lang, path: &str, value: &str) -> Option<&'static str> {
    VALUES.iter().find(|row| row.0 == path && row.1 == value).map(|row| pick(lang, row.2, row.3))
}

/// What the editor's script needs: each type with its words, sample and fields (labelled, enum values
/// labelled), and the labels of the envelope's fields.
pub fn for_script(lang: Lang, types: &[EventType]) -> Value {
    let label = |path: &str| field_label(lang, path).map_or_else(|| path.to_owned(), str::to_owned);
    let types: Vec<Value> = types
        .iter()
        .map(|t| {
            let fields: Vec<Value> = t
                .fields
                .iter()
                .map(|f| {
                    let values: Vec<Value> = f
                        .values
                        .iter()
                        .map(|v| json!({"value": v, "label": value_label(lang, &f.path, v).unwrap_or(v)}))
                        .collect();
                    json!({"path": f.path, "label": label(&f.path), "kind": f.kind, "values": values})
                })
                .collect();
            let starter: Vec<Value> = STARTERS
                .iter()
                .filter(|(id, _)| *id == t.id)
                .flat_map(|(_, rows)| rows.iter())
                .map(|(path, en, es)| json!({"path": path, "name": pick(lang, en, es)}))
                .collect();
            json!({
                "type": t.id,
                "starter": starter,
                "name": type_name(lang, &t.id),
                "description": type_description(lang, &t.id).unwrap_or(""),
                "platform": t.platform,
                "sample": t.sample,
                "fields": fields,
            })
        })
        .collect();
    let envelope: Vec<Value> = ["event.type", "event.id", "event.timestamp"]
        .iter()
        .map(|path| json!({"path": path, "label": label(path), "kind": "string", "values": []}))
        .collect();
    json!({"types": types, "envelope": envelope})
}

/// The card of one event type for a checkbox: her name, the id small, the description.
pub fn type_card(lang: Lang, id: &str) -> maud::Markup {
    maud::html! {
        span.type-name { (type_name(lang, id)) }
        " " code.type-id { (id) }
        @if let Some(description) = type_description(lang, id) { span.type-description { (description) } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The service's catalog, as the API gives it.
    fn catalog() -> Vec<EventType> {
        let value = serde_json::to_value(crate::catalog::for_platforms(&[])).unwrap();
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn every_catalog_type_and_sample_field_has_words_in_both_languages() {
        for event_type in catalog() {
            assert!(TYPES.iter().any(|row| row.0 == event_type.id), "no words for {}", event_type.id);
            for field in &event_type.fields {
                let nested_in_list =
                    field.path.contains(".messages.") || field.path.contains("custom_fields.");
                assert!(
                    nested_in_list || field_label(Lang::Es, &field.path).is_some(),
                    "no label for {}",
                    field.path
                );
            }
        }
        let ended = catalog().into_iter().find(|t| t.id == "call.ended").unwrap();
        let status = ended.fields.iter().find(|f| f.path == "call.status").unwrap();
        assert!(status.values.contains(&"missed".to_owned()) && status.kind == "string");
        assert_eq!(value_label(Lang::Es, "call.status", "missed"), Some("perdida"));
        assert_eq!(type_name(Lang::Es, "call.started"), "Llamada iniciada (START)");
        assert_eq!(type_name(Lang::En, "invoice.paid"), "invoice.paid");
    }
}
