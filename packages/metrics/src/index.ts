/** Placeholder: filled by its issue-9 work. */
export const PLACEHOLDER = true;
