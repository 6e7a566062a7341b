//! The words of the *Connect* flow and the service-account upload; (key, English, Spanish), looked up by
//! [`crate::console::i18n`] with the console's other texts.

pub const CONNECT: &[(&str, &str, &str)] = &[
    ("conn.connect_title", "Connect an account", "Conectar una cuenta"),
    (
        "conn.connect_lead",
        "Sign in to the service and allow access: there is no password or token to copy.",
        "Inicie sesión en el servicio y permita el acceso: no hay contraseña ni token que copiar.",
    ),
    ("conn.connect", "Connect", "Conectar"),
    ("conn.reconnect", "Reconnect", "Reconectar"),
    ("conn.connected", "Connected:", "Conectada:"),
    (
        "conn.flow_unknown",
        "This sign-in is unknown or was already used, so nothing was saved. Start again with Connect on the Connections page.",
        "Este inicio de sesión es desconocido o ya se usó, así que no se guardó nada. Empiece de nuevo con Conectar en la página Conexiones.",
    ),
    (
        "conn.flow_expired",
        "This sign-in took more than 10 minutes and expired, so nothing was saved. Start again with Connect.",
        "Este inicio de sesión tardó más de 10 minutos y venció, así que no se guardó nada. Empiece de nuevo con Conectar.",
    ),
    (
        "conn.flow_other_session",
        "This sign-in was started in another session (another browser or sign-in), so nothing was saved. Start it here with Connect.",
        "Este inicio de sesión se empezó en otra sesión (otro navegador u otro ingreso), así que no se guardó nada. Empiécelo aquí con Conectar.",
    ),
    (
        "conn.flow_denied",
        "Access was not allowed at the service, so nothing was saved. Use Connect again to allow it.",
        "El servicio no permitió el acceso, así que no se guardó nada. Use Conectar de nuevo para permitirlo.",
    ),
    (
        "conn.flow_failed",
        "The service did not accept the sign-in, so nothing was saved. Try Connect again; if it keeps failing, tell the service's operator.",
        "El servicio no aceptó el inicio de sesión, así que no se guardó nada. Pruebe Conectar de nuevo; si sigue fallando, avise al operador del servicio.",
    ),
    (
        "conn.flow_no_refresh",
        "The service gave no lasting access (no refresh token), so nothing was saved. Tell the service's operator: its app must ask for offline access.",
        "El servicio no dio un acceso duradero (sin refresh token), así que no se guardó nada. Avise al operador del servicio: su app debe pedir acceso sin conexión.",
    ),
    ("conn.sa_title", "Google service account", "Cuenta de servicio de Google"),
    (
        "conn.sa_lead",
        "Upload the service account's JSON key (Google Cloud → IAM → Service accounts → Keys → Add key → JSON). It is sealed at once and never shown again.",
        "Suba la clave JSON de la cuenta de servicio (Google Cloud → IAM → Cuentas de servicio → Claves → Agregar clave → JSON). Se sella al instante y nunca se vuelve a mostrar.",
    ),
    ("conn.sa_file", "Key file (.json)", "Archivo de clave (.json)"),
    ("conn.sa_scopes", "Scopes (space-separated)", "Alcances (separados por espacios)"),
    ("conn.sa_submit", "Add the service account", "Agregar la cuenta de servicio"),
    (
        "js.err.key_too_large",
        "That file is too large to be a service account key (at most 16 KiB). Choose the JSON key Google gave you.",
        "Ese archivo es demasiado grande para ser una clave de cuenta de servicio (16 KiB como máximo). Elija la clave JSON que le dio Google.",
    ),
    (
        "js.field.credential.key",
        "That file is not a JSON key. Choose the JSON key Google gave you.",
        "Ese archivo no es una clave JSON. Elija la clave JSON que le dio Google.",
    ),
    (
        "js.field.credential.key.private_key",
        "The key file has no usable private_key. Download the JSON key from Google again.",
        "El archivo de clave no tiene un private_key utilizable. Descargue de nuevo la clave JSON desde Google.",
    ),
    (
        "js.field.credential.key.client_email",
        "The key file has no client_email. Download the JSON key from Google again.",
        "El archivo de clave no tiene client_email. Descargue de nuevo la clave JSON desde Google.",
    ),
    (
        "js.field.credential.scopes",
        "Give at least one scope, e.g. https://www.googleapis.com/auth/spreadsheets.",
        "Indique al menos un alcance, p. ej. https://www.googleapis.com/auth/spreadsheets.",
    ),
];
