import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

/** `/openapi.json` for tools and `/docs` for people; both public, like health. */
export function setupOpenApi(app: NestFastifyApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Vault Lock Gateway')
      .setDescription(
        'Drop-in for TaurusDB backup vault-lock paths, with internal-token authentication, ' +
          'policy and a tamper-evident audit trail. Errors: {"error_code","error_msg","request_id"}.',
      )
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      .addSecurityRequirements('bearer')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'openapi.json',
    yamlDocumentUrl: '',
  });
}
