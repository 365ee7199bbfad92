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

  // The first tab runs as it is, without a token; the second shows how to get one and where it goes.
  const welcome = [
    '# Welcome to OpsHub. This query needs no token: press the run button.',
    '# Most other operations need one: the SignIn tab shows how to get it.',
    '',
    '{',
    '  viewer { id username role }',
    '  rateLimit { limit remaining resetAt }',
    '}',
    '',
  ].join('\n');
  const signIn = [
    '# Sign in with your login (username or e-mail) and password; the demo accounts and their passwords are printed',
    '# when the server creates them. Then open the Headers tab below and enter',
    '#   { "Authorization": "Bearer <accessToken>" }',
    '# Queries, mutations and subscriptions (over graphql-ws) all send that header.',
    '',
    'mutation SignIn($login: String!, $password: String!) {',
    '  login(input: { login: $login, password: $password }) {',
    '    accessToken',
    '    expiresIn',
    '    userErrors { field message }',
    '  }',
    '}',
    '',
  ].join('\n');
  const defaultTabs = [{ query: welcome }, { query: signIn, variables: JSON.stringify({ login: 'demo_admin', password: '' }, null, 2) }];

  const root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      isHeadersEditorEnabled: true,
      // Headers hold access tokens: keep them for this page only, not in localStorage.
      shouldPersistHeaders: false,
      defaultTabs,
    }),
  );
})();
