import { Matches } from 'class-validator';
import {
  INSTANCE_ID_PATTERN,
  INSTANCE_ID_RULE,
  PROJECT_ID_PATTERN,
  PROJECT_ID_RULE,
} from './ids.js';

/** The ID rules of DESIGN §1 as validation decorators, for every DTO and input that takes IDs. */
export const IsProjectId = () => Matches(PROJECT_ID_PATTERN, { message: PROJECT_ID_RULE });
export const IsInstanceId = () => Matches(INSTANCE_ID_PATTERN, { message: INSTANCE_ID_RULE });
