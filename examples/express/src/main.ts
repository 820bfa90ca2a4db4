// Placeholder: the express example is written by its issue-9 work.
export {};
