// The sandbox's SMTP servers as one service: client submission and MX, started and stopped together.
import type { SandboxContext } from '../context.js';
import type { SandboxService, StartedService } from '../services.js';
import { startMx } from './mx/endpoint.js';
import { smtpSettingsOf } from './settings.js';
import { tlsFaultOptions } from './tls-faults.js';
import { startSubmission } from './submission/endpoint.js';

export const smtpService: SandboxService = {
  name: 'smtp',
  async start(ctx: SandboxContext): Promise<StartedService> {
    const settings = smtpSettingsOf(ctx.options);
    const tls = await tlsFaultOptions(ctx, settings.tls);
    const submission = await startSubmission(ctx, settings, tls);
    const mx = await startMx(ctx, settings, tls).catch(async (e: unknown) => {
      await submission.close();
      throw e;
    });
    ctx.options.log(`sandbox: SMTP submission on ${settings.host}:${submission.port} (smtp.office365.com:587), MX on ${settings.host}:${mx.port} (<tenant>.mail.protection.outlook.com:25)`);
    return {
      ports: { submission: submission.port, mx: mx.port },
      stop: async () => {
        await Promise.all([submission.close(), mx.close()]);
      },
    };
  },
};
