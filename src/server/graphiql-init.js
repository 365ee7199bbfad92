// Starts GraphiQL with HTTP for queries and mutations and graphql-ws for subscriptions. The headers editor's
// Authorization header is sent on HTTP and, for subscriptions, in the connection_init payload.
(function () {
  const httpUrl = new URL(location.pathname, location.href).toString();
  const wsUrl = httpUrl.replace(/^http/, 'ws');
  const httpFetcher = GraphiQL.createFetcher({ url: httpUrl });
  const wsClients = new Map();

  function wsClient(authorization) {
    const key = authorization || '';
    if (!wsClients.has(key)) {
      wsClients.set(key, graphqlWs.createClient({ url: wsUrl, lazy: true, connectionParams: authorization ? { authorization } : {} }));
    }
    return wsClients.get(key);
  }

  function isSubscription(params) {
    return /^\s*subscription\b/m.test(params.query || '') && !/^\s*(query|mutation)\b/m.test(params.query || '');
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

  const root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      defaultQuery: '# Welcome to OpsHub\n{\n  items(first: 5) {\n    nodes { id sku name price stock }\n    totalCount\n  }\n}\n',
    }),
  );
})();
