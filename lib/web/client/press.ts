// Presses on the page: a live swap waits while a mouse button or finger is down, so the click of its release is not lost with the element it pressed.

/** A press held longer than this is a drag or a release the page never heard: a swap waits no longer. */
const PRESS_MAX_MS = 5000;
/** When the mouse button or finger now down on the page went down (performance.now()); undefined when none is. */
let pressedAt: number | undefined;
/** Swaps waiting for the press to end. */
let afterPress: (() => void)[] = [];

/**
 * Follows presses: a swap that replaced the element under a held button would lose the click of
 * its release (the click goes to what holds both elements, not to the button).
 */
export function watchPresses(): void {
  addEventListener('pointerdown', () => { pressedAt = performance.now(); }, true);
  const up = (): void => {
    pressedAt = undefined;
    const waiting = afterPress;
    afterPress = [];
    // After this event's task: the click of the release is dispatched first.
    setTimeout(() => { for (const go of waiting) go(); }, 0);
  };
  // A context menu can swallow the release; the window losing focus ends a press too (its own blur
  // only: every focus change blurs an element, and pressing a button moves the focus to it).
  for (const type of ['pointerup', 'pointercancel', 'dragend', 'contextmenu']) addEventListener(type, up, true);
  addEventListener('blur', (e) => { if (e.target === window) up(); });
}

/** Resolves when no press is held (its click dispatched), or once the press is PRESS_MAX_MS old, whichever is first. */
export function unpressed(): Promise<void> {
  const press = pressedAt;
  if (press === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    afterPress.push(resolve);
    setTimeout(() => {
      if (pressedAt === press) pressedAt = undefined; // this press, not a later one
      resolve();
    }, Math.max(0, press + PRESS_MAX_MS - performance.now()));
  });
}
