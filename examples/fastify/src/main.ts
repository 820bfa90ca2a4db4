// Placeholder: the fastify example is written by its issue-9 work.
export {};
