import type { Request, Response } from 'express';
import { currentActor } from '../core/context.js';
import { AppError } from '../core/errors.js';
import { SESSION_COOKIE } from '../http/auth.js';
import type { RouteSpec } from '../http/route.js';
import { LoginInput, LoginResult, Sessao, TrocarSenhaInput } from '../schemas/usuario.schema.js';
import { presentSessionUser, type AuthService } from '../services/auth.service.js';
import { BAD_REQUEST, WRITE_ERRORS, empty, json, problem } from './responses.js';

export interface AuthControllerOptions {
  cookieSecure: boolean;
  sessionTtlMin: number;
}

/** `/auth`: sign in and out, who am I, change my password. */
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly options: AuthControllerOptions,
  ) {}

  login = async (req: Request, res: Response): Promise<void> => {
    const { email, senha } = req.body as LoginInput;
    const result = await this.auth.login(email, senha);
    res.cookie(SESSION_COOKIE, result.token, {
      httpOnly: true,
      sameSite: 'lax',
      path: '/',
      secure: this.options.cookieSecure,
      maxAge: this.options.sessionTtlMin * 60_000,
    });
    res.set('Cache-Control', 'no-store').json(result);
  };

  logout = async (_req: Request, res: Response): Promise<void> => {
    await this.auth.logout(signedIn());
    res.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: this.options.cookieSecure });
    res.status(204).end();
  };

  sessao = async (_req: Request, res: Response): Promise<void> => {
    const found = await this.auth.authenticateActor(signedIn());
    res.set('Cache-Control', 'no-store').json({ expiraEm: res.locals.sessionExpiry as string, usuario: presentSessionUser(found) });
  };

  senha = async (req: Request, res: Response): Promise<void> => {
    const { senhaAtual, novaSenha } = req.body as TrocarSenhaInput;
    await this.auth.changePassword(signedIn(), senhaAtual, novaSenha);
    res.status(204).end();
  };

  routes(): RouteSpec[] {
    const tag = 'Autenticação';
    return [
      {
        method: 'post', path: '/auth/login', permission: 'publico', tag, summary: 'Entra no sistema', body: LoginInput,
        description:
          'Devolve um token de sessão opaco (use como `Authorization: Bearer <token>`) e o cookie `sessao` (HttpOnly, SameSite=Lax), ' +
          'que o navegador envia sozinho, inclusive em `EventSource`. A sessão expira após `SESSION_TTL_MIN` minutos sem uso. ' +
          'Após 5 falhas em 15 minutos, a conta fica bloqueada (429 com Retry-After) até a janela passar.',
        responses: {
          200: json('Sessão iniciada', LoginResult, { 'Set-Cookie': 'sessao=…; HttpOnly; SameSite=Lax; Path=/' }),
          ...WRITE_ERRORS,
          401: problem('E-mail ou senha incorretos (`/problemas/credenciais-invalidas`)'),
          // Both causes: this route is a write of a session, so the per-session write limit applies too.
          429: {
            ...problem('Conta bloqueada por tentativas demais (`/problemas/muitas-tentativas`), ou escritas demais por minuto nesta sessão (WRITE_RATE_LIMIT, `/problemas/muitas-requisicoes`), com Retry-After'),
            headers: { 'Retry-After': 'Segundos até tentar de novo' },
          },
        },
        handler: this.login,
      },
      {
        method: 'post', path: '/auth/logout', permission: 'sessao', tag, summary: 'Sai (a sessão para de valer na hora)',
        responses: { 204: empty('Sessão encerrada') },
        handler: this.logout,
      },
      {
        method: 'get', path: '/auth/sessao', permission: 'sessao', tag, summary: 'Usuário da sessão atual',
        responses: { 200: json('A sessão', Sessao) },
        handler: this.sessao,
      },
      {
        method: 'post', path: '/auth/senha', permission: 'sessao', tag, summary: 'Troca a própria senha', body: TrocarSenhaInput,
        description:
          'As outras sessões do usuário são encerradas; a atual continua. Uma senha atual errada conta como uma falha de login da conta: ' +
          'após 5 em 15 minutos, 429 aqui e no login até a janela passar.',
        responses: {
          204: empty('Senha trocada'), ...WRITE_ERRORS, 400: BAD_REQUEST, 401: problem('Senha atual incorreta ou sessão inválida'),
          429: problem('Conta bloqueada por tentativas demais (`/problemas/muitas-tentativas`), com Retry-After'),
        },
        handler: this.senha,
      },
    ];
  }
}

/** The acting user; routes that call this declare a permission, so there always is one. */
function signedIn() {
  const actor = currentActor();
  if (!actor) throw new AppError('NAO_AUTENTICADO', 'Entre no sistema para continuar (POST /auth/login).');
  return actor;
}
