import { and, count, eq, getTableColumns, inArray, lte, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { Executor } from '../../db/client.js';
import { comments, posts, type CommentRow, type PostRow } from '../../db/tables.js';
import { createdAtSort, keysetCondition, keysetOrder, type PageRequest, type SortSpec } from '../shared/connection.js';
import type { Windowed } from './nested.js';

export type NewPostRow = typeof posts.$inferInsert;
export type NewCommentRow = typeof comments.$inferInsert;

/** Posts and comments are listed newest first; ties break on the id. */
export const postSort = createdAtSort<PostRow>(posts);

export const commentSort = createdAtSort<CommentRow>(comments);

/** SQL for posts and comments. Accepts the database or a transaction. */
export class PostRepo {
  constructor(private readonly db: Executor) {}

  /** The same queries inside a transaction. */
  in(tx: Executor): PostRepo {
    return new PostRepo(tx);
  }

  async insert(values: NewPostRow): Promise<PostRow> {
    const [row] = await this.db.insert(posts).values(values).returning();
    return row!;
  }

  async update(id: string, changes: Partial<Pick<PostRow, 'title' | 'body'>>): Promise<PostRow | null> {
    const [row] = await this.db
      .update(posts)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(posts.id, id))
      .returning();
    return row ?? null;
  }

  async delete(id: string): Promise<PostRow | null> {
    const [row] = await this.db.delete(posts).where(eq(posts.id, id)).returning();
    return row ?? null;
  }

  async findByIds(ids: readonly string[]): Promise<PostRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .select()
      .from(posts)
      .where(inArray(posts.id, [...ids]));
  }

  /** Locks the post against deletion until the transaction ends (a comment never lands on a deleted post). */
  async findForShare(id: string): Promise<PostRow | null> {
    const [row] = await this.db.select().from(posts).where(eq(posts.id, id)).for('share');
    return row ?? null;
  }

  async page(authorId: string | null, page: PageRequest): Promise<PostRow[]> {
    return this.db
      .select()
      .from(posts)
      .where(and(authorId ? eq(posts.authorId, authorId) : undefined, keysetCondition(postSort, page)))
      .orderBy(...keysetOrder(postSort, page))
      .limit(page.limit + 1);
  }

  async count(authorId: string | null): Promise<number> {
    const [row] = await this.db
      .select({ value: count() })
      .from(posts)
      .where(authorId ? eq(posts.authorId, authorId) : undefined);
    return row?.value ?? 0;
  }

  /** One page of posts for each of several authors: one statement (see nested.ts). */
  pageByAuthors(authorIds: string[], page: PageRequest): Promise<Windowed<PostRow>[]> {
    return this.windowed(posts, posts.authorId, postSort, authorIds, page);
  }

  async countByAuthors(authorIds: readonly string[]): Promise<Array<{ parentId: string; count: number }>> {
    if (authorIds.length === 0) return [];
    return this.db
      .select({ parentId: posts.authorId, count: count() })
      .from(posts)
      .where(inArray(posts.authorId, [...authorIds]))
      .groupBy(posts.authorId);
  }

  // ------------------------------------------------------------------------------------------------ comments

  async insertComment(values: NewCommentRow): Promise<CommentRow> {
    const [row] = await this.db.insert(comments).values(values).returning();
    return row!;
  }

  async deleteComment(id: string): Promise<CommentRow | null> {
    const [row] = await this.db.delete(comments).where(eq(comments.id, id)).returning();
    return row ?? null;
  }

  async findCommentsByIds(ids: readonly string[]): Promise<CommentRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .select()
      .from(comments)
      .where(inArray(comments.id, [...ids]));
  }

  /** One page of comments for each of several posts: one statement (see nested.ts). */
  commentsByPosts(postIds: string[], page: PageRequest): Promise<Windowed<CommentRow>[]> {
    return this.windowed(comments, comments.postId, commentSort, postIds, page);
  }

  async countCommentsByPosts(postIds: readonly string[]): Promise<Array<{ parentId: string; count: number }>> {
    if (postIds.length === 0) return [];
    return this.db
      .select({ parentId: comments.postId, count: count() })
      .from(comments)
      .where(inArray(comments.postId, [...postIds]))
      .groupBy(comments.postId);
  }

  /**
   * The first `page.limit + 1` rows (in keyset order) of each parent's list, numbered per parent by a window function,
   * with each parent's row count from a second window over the same partition (exact when no cursor narrows it).
   */
  private async windowed<Row>(
    table: typeof posts | typeof comments,
    parent: AnyPgColumn,
    sort: SortSpec<Row>,
    parentIds: string[],
    page: PageRequest,
  ): Promise<Windowed<Row>[]> {
    const numbered = this.db
      .select({
        ...getTableColumns(table),
        parentId: sql<string>`${parent}`.as('parent_id'),
        rn: sql<number>`row_number() over (partition by ${parent} order by ${sql.join(keysetOrder(sort, page), sql`, `)})`.as('rn'),
        total: sql<number>`count(*) over (partition by ${parent})`.as('total'),
      })
      .from(table as typeof posts)
      .where(and(inArray(parent, parentIds), keysetCondition(sort, page)))
      .as('numbered');
    const rows = await this.db
      .select()
      .from(numbered)
      .where(lte(numbered.rn, page.limit + 1))
      .orderBy(numbered.parentId, numbered.rn);
    return rows.map((row) => ({ ...row, total: Number(row.total) }) as unknown as Windowed<Row>);
  }
}
