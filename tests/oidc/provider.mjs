// A real OpenID provider (panva/oidc-provider, certified) for the SSO tests, on 127.0.0.1.
//
// Usage: node provider.mjs PORT REDIRECT_URI   (prints "ready <issuer>" when listening)
// Clients: "actas" (the broker) and "other" (a second relying party, for audience tests),
// both with secret "<id>-secret", PKCE required. Sign-in needs no form: the interaction is
// finished at once as the account set through POST /test/account {sub, email, name, groups},
// so a test can change a person's groups between two sign-ins.
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const redirectUri = process.argv[3];
const issuer = `http://127.0.0.1:${port}`;
let account = { sub: 'user-1', email: 'user1@corp.test', name: 'User One', groups: [] };

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };

const client = (id) => ({
  client_id: id,
  client_secret: `${id}-secret`,
  redirect_uris: [redirectUri],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
});

const provider = new Provider(issuer, {
  clients: [client('actas'), client('other')],
  jwks: { keys: [jwk] },
  cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { IdToken: 120, AccessToken: 120, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600 },
  async findAccount(ctx, id) {
    const current = { ...account };
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: current.email, email_verified: true, name: current.name, groups: current.groups };
      },
    };
  },
});

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  let result;
  if (details.prompt.name === 'login') {
    result = { login: { accountId: account.sub } };
  } else {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    grant.addOIDCScope('openid email profile groups');
    result = { consent: { grantId: await grant.save() } };
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const handler = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => { res.statusCode = 500; res.end(String(err)); });
  } else if (req.url === '/test/account' && req.method === 'POST') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => { account = { ...account, ...JSON.parse(body) }; res.end('ok'); });
  } else {
    handler(req, res);
  }
});
server.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
