import { Field, ObjectType } from '@nestjs/graphql';

/** The paging half of every connection: `{ nodes, pageInfo }`. */
@ObjectType()
export class PageInfo {
  @Field() hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}
