/**
 * A tag an instance must carry, as TaurusDB's list call takes it: `tags=key=value,key2=value2`.
 * A comma or an equals sign would change the meaning of that list, and a control character has
 * no place in it, so neither key nor value may hold one.
 */
export interface TagFilter {
  key: string;
  value: string;
}

export const MAX_TAG_FILTERS = 10;
export const TAG_KEY_PATTERN = /^[^,=\p{Cc}]{1,128}$/u;
export const TAG_VALUE_PATTERN = /^[^,=\p{Cc}]{1,255}$/u;
export const TAG_FILTER_RULE =
  'each tag is key=value, the key 1-128 and the value 1-255 characters, neither holding a comma, an equals sign or a control character';

export const isTagFilter = (tag: TagFilter): boolean =>
  TAG_KEY_PATTERN.test(tag.key) && TAG_VALUE_PATTERN.test(tag.value);
