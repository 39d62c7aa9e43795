/** One conversation: its messages opened on this device, receipts, typing
 * and presence, documents; the composer, or why one may not write. */
import { useEffect, useRef, useState } from "preact/hooks";
import { type DocumentRef, E2EError, type Notice } from "../../../src/index.js";
import type { ThreadInfo } from "../api.js";
import { useSession } from "../context.js";
import { defineTexts, formatWhen, t } from "../i18n.js";
import type { Session } from "../session.js";
import { type ShownMessage, type ThreadState, typingNow } from "../store.js";
import { Action, AttachButton, ErrorLine } from "../ui.js";
import { CareTools } from "./caretools.js";
import { reasonLabel, threadTitle } from "./inbox.js";

defineTexts({
  "thread.back": ["← Conversations", "← Conversations"],
  "thread.older": ["Messages précédents", "Earlier messages"],
  "thread.messages": ["Messages", "Messages"],
  "thread.you": ["Vous", "You"],
  "thread.for": ["{name} pour {whom}", "{name} for {whom}"],
  "thread.sent": ["Envoyé", "Sent"],
  "thread.delivered": ["Distribué", "Delivered"],
  "thread.read": ["Lu", "Read"],
  "thread.retracted": ["Message retiré.", "Message withdrawn."],
  "thread.expired": [
    "Message effacé : sa durée de conservation est passée.",
    "Message erased: it was kept as long as this service keeps messages.",
  ],
  "thread.unreadable": [
    "Ce message ne peut pas être ouvert sur cet appareil.",
    "This message cannot be opened on this device.",
  ],
  "thread.typing": ["{names} écrit…", "{names} is typing…"],
  "thread.online": ["en ligne", "online"],
  "thread.away": ["absent", "away"],
  "thread.mute": ["Mettre en sourdine", "Mute"],
  "thread.unmute": ["Réactiver les notifications", "Unmute"],
  "thread.muted": ["En sourdine : aucune notification, sur aucun appareil", "Muted: no notification, on any device"],
  "thread.write": ["Votre message", "Your message"],
  "thread.send": ["Envoyer", "Send"],
  "thread.attach": ["Joindre un document ou une photo", "Attach a document or photo"],
  "thread.attached": ["Joint : {name}", "Attached: {name}"],
  "thread.remove_attachment": ["Retirer {name}", "Remove {name}"],
  "thread.uploading": ["Envoi chiffré de {name}…", "Encrypting and sending {name}…"],
  "thread.closed": [
    "Cette conversation est close. Ouvrez une nouvelle demande si besoin.",
    "This conversation is closed. Open a new request if you need to.",
  ],
  "thread.closed_care": ["Cette conversation est close.", "This conversation is closed."],
  "thread.no_reply": [
    "Le praticien a indiqué que son dernier message n'attend pas de réponse.",
    "The practitioner's last message does not take a reply.",
  ],
  "thread.open_document": ["Ouvrir {name}", "Open {name}"],
  "thread.show_image": ["Afficher {name}", "Show {name}"],
  "thread.document_tampered": [
    "Ce document a été modifié : il n'est pas affiché.",
    "This document was altered: it is not shown.",
  ],
  "notice.emergency": [
    "carehub n'est pas un service d'urgence. En cas d'urgence, appelez le 15 (SAMU) ou le 112.",
    "carehub is not an emergency service. In an emergency, call 15 (SAMU) or 112.",
  ],
  "notice.auto_reply": ["Réponse automatique", "Automatic reply"],
  "notice.closed": ["{by} a clos la conversation.", "{by} closed the conversation."],
  "notice.reopened": ["{by} a rouvert la conversation.", "{by} reopened the conversation."],
  "notice.member_added": ["{by} a ajouté {user} à la conversation.", "{by} added {user} to the conversation."],
  "notice.member_removed": ["{by} a retiré {user} de la conversation.", "{by} removed {user} from the conversation."],
  "notice.retracted": ["{by} a retiré un message.", "{by} withdrew a message."],
  "notice.redirect": ["Vous pouvez écrire à {name}.", "You can write to {name}."],
});

const TYPING_EVERY_MS = 3_000;

export function Conversation({ thread }: { thread: number }) {
  const session = useSession();
  const state = session.store.thread(thread);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    session.viewing = thread;
    session.store.dismissThread(thread);
    if (state && !state.loaded) {
      session
        .loadHistory(thread)
        .then(() => session.markRead(thread))
        .catch(setError);
    }
    return () => {
      if (session.viewing === thread) session.viewing = undefined;
    };
  }, [thread, state !== undefined, state?.loaded]);
  useEffect(() => {
    // Read means seen: only while the page is visible, and again when it comes back.
    const readIfSeen = () => {
      const current = session.store.thread(thread);
      if (document.visibilityState === "visible" && current?.loaded && (current.info.unread ?? 0) > 0) {
        void session.markRead(thread).catch(setError);
      }
    };
    readIfSeen();
    document.addEventListener("visibilitychange", readIfSeen);
    return () => document.removeEventListener("visibilitychange", readIfSeen);
  }, [thread, state?.info.unread, state?.loaded]);
  if (!state) return <ErrorLine error={error ?? { code: "not_found" }} />;
  const { info } = state;
  return (
    <article class="conversation" aria-labelledby="thread-title">
      <header>
        <a href="#/" class="muted">
          {t("thread.back")}
        </a>
        <div class="row">
          <h1 id="thread-title" class="grow">
            {threadTitle(session, info)}
          </h1>
          <Presence info={info} />
          {!info.via && <MuteSwitch info={info} />}
        </div>
        {info.reason && <p class="muted">{reasonLabel(info.reason)}</p>}
        {info.muted && <p class="muted">{t("thread.muted")}</p>}
        {isCareSide(session) && <CareTools thread={thread} />}
      </header>
      <Messages state={state} />
      <ErrorLine error={error} />
      <p class="typing" aria-live="polite">
        {typingText(session, state)}
      </p>
      <Composer state={state} />
    </article>
  );
}

export function isCareSide(session: Session): boolean {
  return session.role === "practitioner" || session.role === "assistant" || session.role === "bot";
}

/** Muting is the member's own (a delegate sees a practitioner's thread: not theirs to mute). */
function MuteSwitch({ info }: { info: ThreadInfo }) {
  const session = useSession();
  return (
    <Action
      label={t(info.muted ? "thread.unmute" : "thread.mute")}
      action={() => session.mute(info.id, !info.muted)}
    />
  );
}

function Presence({ info }: { info: ThreadInfo }) {
  const session = useSession();
  const shown = info.members
    .filter((m) => m.user !== session.me)
    .map((m) => ({ name: m.name, status: session.store.presence.get(m.user) }))
    .filter((m) => m.status === "online" || m.status === "away");
  return (
    <span class="muted">
      {shown.map((m) => (
        <span key={m.name} class="pill">
          {m.name} · {t(`thread.${m.status}`)}
        </span>
      ))}
    </span>
  );
}

function Messages({ state }: { state: ThreadState }) {
  const session = useSession();
  const list = useRef<HTMLOListElement>(null);
  const messages = [...state.messages.values()].sort((a, b) => a.threadSeq - b.threadSeq);
  const newest = messages[messages.length - 1]?.id;
  useEffect(() => {
    list.current?.lastElementChild?.scrollIntoView({ block: "end" });
  }, [newest]);
  return (
    <ol class="messages" ref={list} aria-label={t("thread.messages")}>
      {state.hasMore && state.loaded && (
        <li class="notice">
          <Action label={t("thread.older")} action={() => session.loadHistory(state.info.id, true)} />
        </li>
      )}
      {messages.map((message) =>
        message.notice ? (
          <NoticeLine key={message.id} message={message} info={state.info} />
        ) : (
          <MessageLine key={message.id} message={message} state={state} />
        ),
      )}
    </ol>
  );
}

function NoticeLine({ message, info }: { message: ShownMessage; info: ThreadInfo }) {
  const { store } = useSession();
  const notice = message.notice as NonNullable<ShownMessage["notice"]>;
  const name = (user?: number | null) => (user ? store.nameOf(info.members, user) : "");
  const text = noticeWords(notice, name);
  return (
    <li class={`notice ${notice.kind === "emergency" ? "emergency" : ""}`}>
      <strong>{text}</strong>
      {notice.text && <p class="text">{notice.text}</p>}
      {notice.redirect_to && <p>{t("notice.redirect", { name: name(notice.redirect_to) })}</p>}
      <span class="muted"> · {formatWhen(message.sentAt)}</span>
    </li>
  );
}

/** What a server notice says, in the reader's language, naming people with `name`. */
export function noticeWords(notice: Notice, name: (user?: number | null) => string): string {
  const by = notice.acting_for ? t("thread.for", { name: name(notice.by), whom: name(notice.acting_for) }) : name(notice.by);
  return t(`notice.${notice.kind}`, { by, user: name(notice.user) });
}

function MessageLine({ message, state }: { message: ShownMessage; state: ThreadState }) {
  const session = useSession();
  const { info } = state;
  const mine = message.sender === session.me || (info.via !== undefined && info.via !== null && message.sender === info.via);
  const author =
    message.sender === session.me ? t("thread.you") : session.store.nameOf(info.members, message.sender);
  const who = message.actingFor
    ? t("thread.for", { name: author, whom: session.store.nameOf(info.members, message.actingFor) })
    : author;
  return (
    <li class={`message${mine ? " mine" : ""}`} data-seq={message.threadSeq}>
      <div class="meta">
        <strong>{who}</strong>
        <time dateTime={new Date(message.sentAt).toISOString()}>{formatWhen(message.sentAt)}</time>
      </div>
      {message.retracted ? (
        <p class="muted">{t("thread.retracted")}</p>
      ) : message.expired ? (
        <p class="muted">{t("thread.expired")}</p>
      ) : message.unreadable ? (
        <p class="error">{t("thread.unreadable")}</p>
      ) : (
        <>
          {message.subject && <p>
            <strong>{message.subject}</strong>
          </p>}
          <p class="text">{message.text}</p>
          {message.documents.length > 0 && (
            <ul class="documents">
              {message.documents.map((ref) => (
                <DocumentLink key={ref.file} docRef={ref} />
              ))}
            </ul>
          )}
        </>
      )}
      {mine && <Status seq={message.threadSeq} state={state} />}
    </li>
  );
}

/** Sent, delivered or read by the others (the best any of them reached). */
function Status({ seq, state }: { seq: number; state: ThreadState }) {
  const session = useSession();
  let status = "thread.sent";
  for (const [user, receipt] of state.receipts) {
    if (user === session.me || user === state.info.via) continue;
    if (receipt.read >= seq) status = "thread.read";
    else if (receipt.delivered >= seq && status === "thread.sent") status = "thread.delivered";
  }
  return (
    <span class="muted status" data-status={status.slice(7)}>
      {t(status)}
    </span>
  );
}

/** A document opened here: decrypted in pieces, checked, then offered. */
function DocumentLink({ docRef }: { docRef: DocumentRef }) {
  const session = useSession();
  const [url, setUrl] = useState<string>();
  const [error, setError] = useState<unknown>();
  useEffect(() => () => void (url && URL.revokeObjectURL(url)), [url]);
  const open = async () => {
    try {
      const pieces: BlobPart[] = [];
      for await (const piece of session.secure.downloadHttp(location.origin, docRef)) pieces.push(piece as BlobPart);
      setUrl(URL.createObjectURL(new Blob(pieces, { type: shownType(docRef.mime) })));
    } catch (failure) {
      setError(failure);
    }
  };
  const image = shownType(docRef.mime).startsWith("image/");
  if (error instanceof E2EError) return <li class="error">{t("thread.document_tampered")}</li>;
  if (error) {
    return (
      <li>
        <ErrorLine error={error} />
      </li>
    );
  }
  if (url) {
    return (
      <li>
        {image && <img src={url} alt={docRef.name} />}
        <a href={url} download={docRef.name}>
          {docRef.name}
        </a>
      </li>
    );
  }
  return (
    <li>
      <button type="button" class="link" onClick={open}>
        {t(image ? "thread.show_image" : "thread.open_document", { name: docRef.name })}
      </button>{" "}
      <span class="muted">({formatSize(docRef.size)})</span>
    </li>
  );
}

/** What the browser may treat the decrypted bytes as: the sender chose the
 * type, so only pictures and PDFs keep theirs; anything else is a file. */
const SHOWN_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"]);

function shownType(mime: string): string {
  return SHOWN_TYPES.has(mime) ? mime : "application/octet-stream";
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} o`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} Ko`;
  return `${(bytes / 1024 / 1024).toFixed(1)} Mo`;
}

function typingText(session: Session, state: ThreadState): string {
  const names = typingNow(state).map((user) => session.store.nameOf(state.info.members, user));
  return names.length ? t("thread.typing", { names: names.join(", ") }) : "";
}

/** Why this person may not write here now, or null if they may. */
function blocked(session: Session, info: ThreadInfo): string | null {
  const care = isCareSide(session);
  if (info.closed) return care ? null : t("thread.closed");
  if (!care && info.reply_allowed === false) return t("thread.no_reply");
  return null;
}

function Composer({ state }: { state: ThreadState }) {
  const session = useSession();
  const { info } = state;
  const [text, setText] = useState("");
  const [files, setFiles] = useState<File[]>([]);
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<unknown>();
  const lastTyping = useRef(0);
  const sending = useRef(false);
  const why = blocked(session, info);
  if (why) {
    return (
      <p class="composer" role="status">
        {why}
      </p>
    );
  }
  if (info.closed) return <p class="composer">{t("thread.closed_care")}</p>;

  const send = async (event: Event) => {
    event.preventDefault();
    if ((!text.trim() && !files.length) || sending.current) return;
    sending.current = true; // a second Enter while this one is on its way sends nothing
    setError(undefined);
    try {
      const documents: DocumentRef[] = [];
      for (const file of files) {
        setBusy(t("thread.uploading", { name: file.name }));
        documents.push(await session.secure.upload(info.id, file, file.name, file.type || "application/octet-stream"));
      }
      setBusy(undefined);
      await session.send(info.id, text, documents);
      setText("");
      setFiles([]);
    } catch (failure) {
      setError(failure);
    } finally {
      sending.current = false;
      setBusy(undefined);
    }
  };
  const typed = (value: string) => {
    setText(value);
    const now = Date.now();
    if (now - lastTyping.current > TYPING_EVERY_MS) {
      lastTyping.current = now;
      session.typing(info.id);
    }
  };
  return (
    <div class="composer">
      {files.map((file) => (
        <p key={file.name} class="row">
          <span>{t("thread.attached", { name: file.name })}</span>
          <button type="button" class="link" onClick={() => setFiles(files.filter((f) => f !== file))}>
            {t("thread.remove_attachment", { name: file.name })}
          </button>
        </p>
      ))}
      {busy && <p role="status">{busy}</p>}
      <ErrorLine error={error} />
      <form onSubmit={send}>
        <label class="grow">
          <span class="visually-hidden">{t("thread.write")}</span>
          <textarea
            name="message"
            rows={2}
            value={text}
            placeholder={t("thread.write")}
            onInput={(event) => typed((event.target as HTMLTextAreaElement).value)}
            onKeyDown={(event) => {
              if (event.key === "Enter" && !event.shiftKey && !event.isComposing) void send(event);
            }}
          />
        </label>
        <AttachButton label={t("thread.attach")} iconOnly chosen={(chosen) => setFiles([...files, ...chosen])} />
        <button class="primary" type="submit" disabled={busy !== undefined}>
          {t("thread.send")}
        </button>
      </form>
    </div>
  );
}
