import { Extensions } from 'type-graphql';

/** The field extension that marks a subscription whose events read the same for every viewer with the same scopes. */
export const SHARED_EVENTS_EXTENSION = 'sharedEvents';

/**
 * Marks a subscription whose result depends only on the event, the document, its variables and the subscriber's
 * scopes — never on who the subscriber is. The WebSocket transport then executes each event once per distinct
 * (document, variables, scopes) instead of once per subscriber. Only for types without viewer-dependent fields.
 */
export const SharedEvents = () => Extensions({ [SHARED_EVENTS_EXTENSION]: true });
