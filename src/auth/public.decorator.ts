import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'vault-lock-gateway:public';

/** Routes that answer without an internal token: health, metrics and the API docs. */
export const Public = () => SetMetadata(IS_PUBLIC, true);
