import { and, count, eq, getTableColumns, lte, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { Executor } from '../../db/client.js';
import { comments, posts, userProfile, users, type CommentRow, type PostRow, type UserProfileRow } from '../../db/tables.js';
import {
  createdAtSort,
  keysetOrder,
  keysetParams,
  keysetPlaceholders,
  pageShape,
  type PageRequest,
  type SortSpec,
} from '../shared/connection.js';
import { anyId, fieldsOf, once, PreparedInserts, Statements, type Prepared } from '../shared/prepared.js';
import type { Windowed } from './nested.js';

export type NewPostRow = typeof posts.$inferInsert;
export type NewCommentRow = typeof comments.$inferInsert;

/** Posts and comments are listed newest first; ties break on the id. */
export const postSort = createdAtSort<PostRow>(posts);

export const commentSort = createdAtSort<CommentRow>(comments);

/** A post or comment with its author's profile, read in the same statement so the user loader can be primed with it. */
export type WithAuthor<Row> = Row & { author: UserProfileRow };
export type AuthoredComment = WithAuthor<CommentRow>;

/**
 * SQL for posts and comments. Accepts the database or a transaction. The lookups by id, the pages, the nested
 * windows and the grouped counts are prepared statements (shared/prepared.ts), one per page shape.
 */
export class PostRepo {
  constructor(private readonly db: Executor) {}

  private readonly postsByIds = once(() => this.db.select().from(posts).where(anyId(posts.id)).prepare('posts_by_ids'));
  private readonly commentsByIds = once(() => this.db.select().from(comments).where(anyId(comments.id)).prepare('comments_by_ids'));
  private readonly postCounts = once(() =>
    this.db
      .select({ parentId: posts.authorId, count: count() })
      .from(posts)
      .where(anyId(posts.authorId))
      .groupBy(posts.authorId)
      .prepare('post_counts_by_authors'),
  );
  private readonly commentCounts = once(() =>
    this.db
      .select({ parentId: comments.postId, count: count() })
      .from(comments)
      .where(anyId(comments.postId))
      .groupBy(comments.postId)
      .prepare('comment_counts_by_posts'),
  );
  private readonly pages = new Statements<Prepared<WithAuthor<PostRow>>>();
  private readonly authorPages = new Statements<Prepared<unknown>>();
  private readonly commentWindows = new Statements<Prepared<unknown>>();

  /** The same queries inside a transaction. */
  in(tx: Executor): PostRepo {
    return new PostRepo(tx);
  }

  private readonly postInserts = new PreparedInserts<PostRow>('insert_post', (placeholders) =>
    this.db
      .insert(posts)
      .values(placeholders as unknown as NewPostRow)
      .returning(),
  );
  private readonly commentInserts = new PreparedInserts<CommentRow>('insert_comment', (placeholders) =>
    this.db
      .insert(comments)
      .values(placeholders as unknown as NewCommentRow)
      .returning(),
  );

  async insert(values: NewPostRow): Promise<PostRow> {
    return this.postInserts.insert(this.db, values);
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
    return this.postsByIds(this.db).execute({ ids });
  }

  /** Locks the post against deletion until the transaction ends (a comment never lands on a deleted post). */
  async findForShare(id: string): Promise<PostRow | null> {
    const [row] = await this.db.select().from(posts).where(eq(posts.id, id)).for('share');
    return row ?? null;
  }

  /** A page of posts (everyone's, or one author's), each with its author's row. */
  async page(authorId: string | null, page: PageRequest): Promise<Array<WithAuthor<PostRow>>> {
    const statement = this.pages.get(this.db, `${authorId ? 'author' : 'all'} ${pageShape(postSort, page)}`, () =>
      this.db
        .select({ ...getTableColumns(posts), author: userProfile })
        .from(posts)
        .innerJoin(users, eq(users.id, posts.authorId))
        .where(and(authorId ? eq(posts.authorId, sql.placeholder('authorId')) : undefined, keysetPlaceholders(postSort, page)))
        .orderBy(...keysetOrder(postSort, page))
        .limit(sql.placeholder('limit'))
        .prepare('posts_page'),
    );
    return statement.execute({ ...(authorId ? { authorId } : {}), ...keysetParams(postSort, page) });
  }

  async count(authorId: string | null): Promise<number> {
    const [row] = await this.db
      .select({ value: count() })
      .from(posts)
      .where(authorId ? eq(posts.authorId, authorId) : undefined);
    return row?.value ?? 0;
  }

  /** One page of posts for each of several authors: one statement (see nested.ts). */
  async pageByAuthors(authorIds: string[], page: PageRequest): Promise<Windowed<PostRow>[]> {
    const statement = this.authorPages.get(this.db, pageShape(postSort, page), () => {
      const numbered = this.windowed(posts, posts.authorId, postSort, page);
      return this.db
        .select()
        .from(numbered)
        .where(lte(numbered.rn, sql.placeholder('limit')))
        .orderBy(numbered.parentId, numbered.rn)
        .prepare('posts_by_authors');
    });
    return (await statement.execute({ parentIds: authorIds, ...keysetParams(postSort, page) })) as Windowed<PostRow>[];
  }

  async countByAuthors(authorIds: readonly string[]): Promise<Array<{ parentId: string; count: number }>> {
    if (authorIds.length === 0) return [];
    return this.postCounts(this.db).execute({ ids: authorIds });
  }

  // ------------------------------------------------------------------------------------------------ comments

  async insertComment(values: NewCommentRow): Promise<CommentRow> {
    return this.commentInserts.insert(this.db, values);
  }

  async deleteComment(id: string): Promise<CommentRow | null> {
    const [row] = await this.db.delete(comments).where(eq(comments.id, id)).returning();
    return row ?? null;
  }

  async findCommentsByIds(ids: readonly string[]): Promise<CommentRow[]> {
    if (ids.length === 0) return [];
    return this.commentsByIds(this.db).execute({ ids });
  }

  /** One page of comments for each of several posts, each with its author's row: one statement (see nested.ts). */
  async commentsByPosts(postIds: string[], page: PageRequest): Promise<Windowed<WithAuthor<CommentRow>>[]> {
    const statement = this.commentWindows.get(this.db, pageShape(commentSort, page), () => {
      const numbered = this.windowed(comments, comments.postId, commentSort, page);
      return this.db
        .select({ ...fieldsOf(numbered), author: userProfile })
        .from(numbered)
        .innerJoin(users, eq(users.id, numbered.authorId))
        .where(lte(numbered.rn, sql.placeholder('limit')))
        .orderBy(numbered.parentId, numbered.rn)
        .prepare('comments_by_posts');
    });
    return (await statement.execute({ parentIds: postIds, ...keysetParams(commentSort, page) })) as Windowed<WithAuthor<CommentRow>>[];
  }

  async countCommentsByPosts(postIds: readonly string[]): Promise<Array<{ parentId: string; count: number }>> {
    if (postIds.length === 0) return [];
    return this.commentCounts(this.db).execute({ ids: postIds });
  }

  /**
   * The rows of each parent's list (placeholders: `parentIds`, the keyset's), numbered per parent in keyset order by a
   * window function, with each parent's row count from a second window over the same partition (exact when no cursor
   * narrows it). The caller keeps the first `page.limit + 1` of each (`rn <= $limit`).
   */
  private windowed<Row>(table: typeof posts | typeof comments, parent: AnyPgColumn, sort: SortSpec<Row>, page: PageRequest) {
    return this.db
      .select({
        ...getTableColumns(table as typeof comments),
        parentId: sql<string>`${parent}`.as('parent_id'),
        rn: sql<number>`row_number() over (partition by ${parent} order by ${sql.join(keysetOrder(sort, page), sql`, `)})`.as('rn'),
        total: sql<number>`count(*) over (partition by ${parent})`.mapWith(Number).as('total'),
      })
      .from(table as typeof comments)
      .where(and(anyId(parent, 'parentIds'), keysetPlaceholders(sort, page)))
      .as('numbered');
  }
}
