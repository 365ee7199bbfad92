// Starts GraphiQL with HTTP for queries and mutations and graphql-ws for subscriptions. The headers editor's
// Authorization header is sent on HTTP and, for subscriptions, in the connection_init payload.
(function () {
  const httpUrl = new URL(location.pathname, location.href).toString();
  const wsUrl = httpUrl.replace(/^http/, 'ws');
  const httpFetcher = GraphiQL.createFetcher({ url: httpUrl });
  // One socket per Authorization value: the token travels in connection_init, so a new token needs a new socket.
  const wsClients = new Map();

  function wsClient(authorization) {
    const key = authorization || '';
    if (!wsClients.has(key)) {
      wsClients.set(key, graphqlWs.createClient({ url: wsUrl, lazy: true, connectionParams: authorization ? { authorization } : {} }));
    }
    return wsClients.get(key);
  }

  // The operation GraphiQL is about to run is a subscription: the named one when a name is given, else the only
  // operation of the document. Comments and strings cannot hide or fake a keyword once they are stripped.
  function isSubscription(params) {
    const source = (params.query || '').replace(/"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|#[^\n\r]*/g, ' ');
    if (params.operationName) {
      return new RegExp('(^|[^\\w$])subscription\\s+' + params.operationName + '(?![\\w$])').test(source);
    }
    return /^\s*subscription\b/.test(source);
  }

  function fetcher(params, options) {
    if (!isSubscription(params)) return httpFetcher(params, options);
    const headers = (options && options.headers) || {};
    const authorization = headers.Authorization || headers.authorization;
    const client = wsClient(authorization);
    return {
      [Symbol.asyncIterator]() {
        return client.iterate({ query: params.query, variables: params.variables, operationName: params.operationName });
      },
    };
  }

  const defaultQuery = [
    '# Welcome to OpsHub.',
    '#',
    '# Most operations need an access token. Sign in with the login mutation, then open the Headers tab below',
    '# and enter { "Authorization": "Bearer <accessToken>" }. Subscriptions use the same header.',
    '#',
    '#   mutation { login(input: { login: "you@example.com", password: "…" }) { accessToken userErrors { message } } }',
    '#   subscription { itemChanged { id name price } }',
    '',
    '{',
    '  items(first: 5) {',
    '    nodes { id sku name price stock }',
    '    totalCount',
    '  }',
    '}',
    '',
  ].join('\n');

  const root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      isHeadersEditorEnabled: true,
      // Headers hold access tokens: keep them for this page only, not in localStorage.
      shouldPersistHeaders: false,
      defaultQuery,
    }),
  );
})();
