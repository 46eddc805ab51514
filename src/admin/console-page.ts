/**
 * The console's one HTML page: every view is drawn by /assets/main.js (compiled from
 * src/admin/console/ with its own tsconfig) into <main>; the style is /assets/console.css.
 * Nothing is loaded from anywhere else, so it works without internet access.
 */
export const consolePage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>relay365</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/console.css">
<script type="module" src="/assets/main.js"></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/">relay365</a>
  <nav aria-label="Main">
    <a href="/">Overview</a>
    <a href="/queue">Queue</a>
    <a href="/routes">Routes</a>
  </nav>
  <span id="who"></span>
</header>
<main id="main" tabindex="-1"><p>Loading…</p></main>
</body>
</html>
`;
