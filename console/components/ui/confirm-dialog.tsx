"use client";

import { createContext, useCallback, useContext, useEffect, useId, useRef, useState, type KeyboardEvent, type ReactNode } from "react";

/** What a confirmation asks: the title names the action, the message its consequences. */
export interface ConfirmOptions {
  title: string;
  message?: ReactNode;
  /** Label of the button that goes ahead, e.g. "Delete"; "OK" when omitted. */
  confirmLabel?: string;
  /** Label of the button that backs out; "Cancel" when omitted. */
  cancelLabel?: string;
  /** Styles the confirm button as destructive (the default). */
  danger?: boolean;
}

type Confirm = (options: ConfirmOptions) => Promise<boolean>;

const ConfirmContext = createContext<Confirm | null>(null);

const FOCUSABLE = 'button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * A modal confirmation (role="dialog", aria-modal): focus starts on the safe button, Tab and
 * Shift+Tab stay inside, Escape or a click on the backdrop cancels, and focus returns to the
 * element that opened it.
 */
export function ConfirmDialog({
  title,
  message,
  confirmLabel = "OK",
  cancelLabel = "Cancel",
  danger = true,
  onClose,
}: ConfirmOptions & { onClose: (confirmed: boolean) => void }) {
  const id = useId();
  const dialog = useRef<HTMLDivElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    cancel.current?.focus();
    // Focus that lands outside (a click through, a screen reader jump) is pulled back in.
    const keepInside = (event: FocusEvent) => {
      if (dialog.current && event.target instanceof Node && !dialog.current.contains(event.target)) cancel.current?.focus();
    };
    document.addEventListener("focusin", keepInside);
    return () => {
      document.removeEventListener("focusin", keepInside);
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    if (event.key === "Escape") {
      event.preventDefault();
      onClose(false);
      return;
    }
    if (event.key !== "Tab" || !dialog.current) return;
    const items = [...dialog.current.querySelectorAll<HTMLElement>(FOCUSABLE)];
    const first = items[0];
    const last = items.at(-1);
    if (!first || !last) return;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a click on the backdrop is a mouse shortcut; Escape and the buttons are the accessible way out.
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose(false)}>
      <div
        ref={dialog}
        className="modal"
        role="dialog"
        aria-modal="true"
        aria-labelledby={`${id}-title`}
        aria-describedby={message ? `${id}-message` : undefined}
        onKeyDown={onKeyDown}
      >
        <h2 id={`${id}-title`}>{title}</h2>
        {message && (
          <div id={`${id}-message`} className="modal-message">
            {message}
          </div>
        )}
        <div className="form-actions">
          <button type="button" className={danger ? "danger" : "primary"} onClick={() => onClose(true)}>
            {confirmLabel}
          </button>
          <button ref={cancel} type="button" onClick={() => onClose(false)}>
            {cancelLabel}
          </button>
        </div>
      </div>
    </div>
  );
}

/** Makes `useConfirm()` available below it and renders the one open confirmation. */
export function ConfirmProvider({ children }: { children: ReactNode }) {
  const [open, setOpen] = useState<{ options: ConfirmOptions; resolve: (confirmed: boolean) => void } | null>(null);
  const confirm = useCallback<Confirm>(
    (options) =>
      new Promise<boolean>((resolve) => {
        setOpen((current) => {
          current?.resolve(false); // a second request replaces (and cancels) the first
          return { options, resolve };
        });
      }),
    [],
  );

  function close(confirmed: boolean) {
    open?.resolve(confirmed);
    setOpen(null);
  }

  return (
    <ConfirmContext.Provider value={confirm}>
      {children}
      {open && <ConfirmDialog {...open.options} onClose={close} />}
    </ConfirmContext.Provider>
  );
}

/** `await confirm({ title, message, confirmLabel })` resolves true when the user goes ahead. */
export function useConfirm(): Confirm {
  const confirm = useContext(ConfirmContext);
  if (!confirm) throw new Error("useConfirm outside ConfirmProvider");
  return confirm;
}
