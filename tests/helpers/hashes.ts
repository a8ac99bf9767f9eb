/** A well-formed scrypt hash (today's cost, random salt and key) that no password matches: test users sign in by token. */
export const NO_PASSWORD_HASH = 'scrypt$32768$8$1$EQAU-OUKjP_R-_x8IR5cew$BC9wlrQ3nanfc3jd_T6tw--Ib3QDelIxidPM3OA468s';
