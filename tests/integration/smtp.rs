//! A small SMTP server on 127.0.0.1 for the email alert tests. It speaks the
//! part of RFC 5321 an SMTP client needs for one message without TLS (EHLO,
//! AUTH PLAIN, MAIL, RCPT, DATA, RSET, QUIT), keeps what it was sent, and
//! can answer the next messages with a transient 451.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message the server took.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    /// The decoded AUTH PLAIN response (`\0user\0password`), if any.
    pub auth: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent, headers and body, dot-stuffing undone.
    pub data: String,
}

#[derive(Clone)]
pub struct SmtpServer {
    pub addr: SocketAddr,
    pub mails: Arc<Mutex<Vec<Mail>>>,
    /// How many of the next messages are answered `451` instead of taken.
    pub refuse: Arc<AtomicUsize>,
}

pub async fn smtp_server() -> SmtpServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = SmtpServer {
        addr: listener.local_addr().unwrap(),
        mails: Arc::default(),
        refuse: Arc::default(),
    };
    let s = server.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(session(socket, s.clone()));
        }
    });
    server
}

async fn session(socket: tokio::net::TcpStream, server: SmtpServer) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut mail = Mail::default();
    if write.write_all(b"220 newsd-test ESMTP\r\n").await.is_err() {
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let answer: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250-newsd-test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n".into()
        } else if upper.starts_with("AUTH PLAIN") {
            let arg = match line.split_whitespace().nth(2) {
                Some(a) => a.to_owned(),
                None => {
                    let _ = write.write_all(b"334 \r\n").await;
                    lines.next_line().await.ok().flatten().unwrap_or_default()
                }
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(arg.trim())
                .unwrap_or_default();
            mail.auth = Some(String::from_utf8_lossy(&decoded).into_owned());
            "235 2.7.0 accepted\r\n".into()
        } else if upper.starts_with("MAIL FROM:") {
            mail.from = line[10..].trim().to_owned();
            "250 2.1.0 ok\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(line[8..].trim().to_owned());
            "250 2.1.5 ok\r\n".into()
        } else if upper == "DATA" {
            let _ = write.write_all(b"354 end with .\r\n").await;
            let mut data = String::new();
            while let Ok(Some(l)) = lines.next_line().await {
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push('\n');
            }
            let taken = server
                .refuse
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_err();
            if taken {
                mail.data = data;
                server.mails.lock().unwrap().push(std::mem::take(&mut mail));
                "250 2.0.0 queued\r\n".into()
            } else {
                mail = Mail::default();
                "451 4.3.0 try again later\r\n".into()
            }
        } else if upper == "RSET" || upper == "NOOP" {
            "250 2.0.0 ok\r\n".into()
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
            return;
        } else {
            "502 5.5.2 not implemented\r\n".into()
        };
        if write.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}
