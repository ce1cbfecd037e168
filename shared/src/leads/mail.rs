//! The mail port of lead notifications and its SES implementation (Simple content: a text
//! part; subject and body are ours, with names stripped of line breaks).

use crate::CrmError;
use futures::future::BoxFuture;

pub trait Mailer: Send + Sync {
    fn send<'a>(
        &'a self,
        to: &'a str,
        subject: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, Result<(), CrmError>>;
}

/// Sends from the stack's verified sender through SES v2.
pub struct SesMailer {
    pub sesv2: crate::sdk_client::SdkClient<aws_sdk_sesv2::Client>,
    pub sender: String,
}

impl Mailer for SesMailer {
    fn send<'a>(
        &'a self,
        to: &'a str,
        subject: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, Result<(), CrmError>> {
        Box::pin(async move {
            use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
            let text = |t: &str| {
                Content::builder()
                    .data(t)
                    .charset("UTF-8")
                    .build()
                    .map_err(CrmError::internal)
            };
            let message = Message::builder()
                .subject(text(&one_line(subject))?)
                .body(Body::builder().text(text(body)?).build())
                .build();
            self.sesv2
                .send_email()
                .from_email_address(&self.sender)
                .destination(Destination::builder().to_addresses(to).build())
                .content(EmailContent::builder().simple(message).build())
                .send()
                .await
                .map_err(|e| CrmError::Internal(format!("SES SendEmail: {e}")))?;
            crate::telemetry::metrics::count(crate::telemetry::metrics::Counter::EmailsSent, 1);
            Ok(())
        })
    }
}

/// Text with every line break (CR, LF, U+2028, U+2029, other controls) made a space.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect()
}
