// Module hooks of forbid-ui-modules.mjs: a worker must not load these packages at all.
const FORBIDDEN = /^(graphql|graphql-yoga|@pothos\/[^/]+|next|react|react-dom)(\/.*)?$/;

export async function resolve(specifier, context, nextResolve) {
  if (FORBIDDEN.test(specifier)) throw new Error(`a worker process must not load ${specifier} (imported by ${context.parentURL ?? "?"})`);
  return nextResolve(specifier, context);
}
