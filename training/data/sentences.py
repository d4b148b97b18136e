"""Sentences written for sepviz's synthetic corpus (project-authored, no licence strings attached).

Each language pool is read by ``synth_corpus`` to pick a talker's utterances. Sentences are short
(5-15 words) so that synthesised utterances last roughly 2-6 s at normal speaking rate.
"""
from __future__ import annotations

ENGLISH = """
The old lighthouse keeper counted ships every evening before dinner.
My sister planted tomatoes along the back fence last spring.
Please leave the muddy boots outside the kitchen door.
The train to the coast was delayed by twenty minutes.
A small grey cat slept on the warm windowsill.
We watched the storm roll across the valley in silence.
He forgot his umbrella on the bus again this morning.
The museum opens at nine and closes early on Sundays.
Fresh bread smells wonderful when the bakery opens its doors.
She painted the garden shed a bright shade of yellow.
The children built a tall castle from wet sand.
Our neighbour plays the trumpet every Thursday night.
The bridge was closed for repairs during the whole summer.
I need three eggs, some flour, and a pinch of salt.
The river froze solid during the coldest week of winter.
They argued about the map until the sun went down.
A gentle breeze carried the scent of pine needles.
The library has a quiet room on the second floor.
He tuned the old guitar before the concert started.
Bright orange leaves covered the path through the park.
The pilot announced that we would land in ten minutes.
Nobody expected the small team to win the final match.
The soup needs more pepper and a little lemon juice.
We found a family of ducks near the wooden bridge.
The teacher wrote the answer on the board in green chalk.
Please call me back when you get this message.
The mountain road twists and turns for many miles.
A loud knock at the door woke the whole house.
She keeps her grandmother's letters in a blue box.
The farmer drove his tractor slowly along the narrow lane.
Warm socks are the best gift on a winter morning.
The clock in the tower stopped at half past four.
He carried the heavy boxes up four flights of stairs.
The market sells apples, plums and fresh honey.
Our flight was cancelled because of thick fog.
The baby laughed every time the dog wagged its tail.
I left my keys on the table next to the lamp.
The scientists measured the temperature of the lake each hour.
A red kite floated high above the empty beach.
The shop on the corner sells newspapers and sweets.
They walked home together under a sky full of stars.
The engine made a strange noise as we climbed the hill.
My brother is learning to cook simple Italian dishes.
Rain tapped softly against the attic window all night.
The doctor said I should drink more water every day.
We painted the fence white before the party.
The little boat drifted slowly towards the harbour.
Her phone rang three times during the meeting.
The postman delivers letters before eight in the morning.
Thick snow made the streets silent and bright.
The band played until long after midnight.
Please close the window, it is getting cold in here.
The owl called softly from the top of the oak tree.
He wrote a long letter to his friend in Canada.
The kitchen smelled of cinnamon and baked apples.
A group of tourists gathered around the ancient statue.
I think the bus stop has moved to the next street.
The chess club meets every Wednesday in the village hall.
The waves crashed against the rocks with great force.
She finished the marathon in just under four hours.
The bakery ran out of croissants before ten o'clock.
Our garden is full of bees when the lavender blooms.
The cyclist stopped to fix a flat tyre.
Two horses were grazing quietly in the green field.
The lecture was interesting but far too long.
He always drinks his coffee without sugar or milk.
The new bridge will connect the two halves of the city.
A thin layer of dust covered the old piano.
We heard thunder in the distance as we reached the car.
The students cheered when the exam results were posted.
My grandfather repairs clocks in his tiny workshop.
The dog chased a ball across the wet grass.
Please remember to switch off the lights when you leave.
The festival attracts thousands of visitors every August.
She sang a quiet song to put the baby to sleep.
The tea is too hot to drink right now.
The hikers reached the summit just before sunset.
Somebody left a bicycle leaning against the gate.
The fishermen returned with a boat full of silver fish.
I have never seen such a beautiful sunrise before.
The workers finished painting the school over the weekend.
The recipe calls for two cups of rice and some beans.
A squirrel buried nuts under the old chestnut tree.
The radio played jazz all afternoon.
We need to buy a new kettle for the office.
The ship sailed north through icy waters for days.
His handwriting is very hard to read.
The city lights sparkled on the surface of the lake.
She opened the letter with trembling hands.
The picnic was ruined by a sudden shower of rain.
The elevator is out of order, please use the stairs.
A flock of geese flew south over the hills.
The firefighters rescued a kitten from the tall tree.
My laptop battery lasts about six hours.
The gardener trimmed the hedges into neat shapes.
We shared a pizza and watched an old film.
The baker wakes up at four to prepare the dough.
There is a small island in the middle of the lake.
The wind blew the newspaper out of his hands.
Our team meets every Monday to plan the week.
The farmer's market is busiest on Saturday mornings.
The old car would not start in the cold weather.
A rainbow appeared after the storm had passed.
The nurse checked the patient's temperature twice.
I borrowed three books from the library yesterday.
The fountain in the square was turned off for winter.
He climbed the ladder to clean the gutters.
The orchestra tuned their instruments before the show.
She planted sunflowers that grew taller than the fence.
The path through the forest was covered in moss.
We ordered soup, salad and a large loaf of bread.
The museum guard asked us not to touch the paintings.
A cold wind swept through the empty streets.
The puppy chewed one of my favourite shoes.
The astronaut waved to the crowd before boarding.
Heavy traffic made us late for the wedding.
The plumber fixed the leaking pipe under the sink.
I like to read the news with my morning tea.
The volcano has been quiet for hundreds of years.
The kids made paper boats and raced them in the stream.
Her garden is famous for its roses and tulips.
The shop assistant wrapped the present in shiny paper.
The moon rose slowly over the quiet village.
My uncle collects stamps from all over the world.
The hotel room had a view of the harbour.
The students planted trees along the river bank.
He dropped the glass and it shattered on the floor.
The weather forecast promises sunshine for the weekend.
She sent a postcard from every city she visited.
The footballers trained in the pouring rain.
A lonely cloud drifted across the blue sky.
The cake needs another ten minutes in the oven.
Our car broke down halfway to the airport.
The village celebrates the harvest with music and dancing.
He spent the afternoon fixing the broken chair.
The hedgehog hid under a pile of dry leaves.
Please write your name at the top of the page.
The ferry leaves the port every two hours.
The choir practised the new song all evening.
I could hear children laughing in the playground.
The bakery on Green Street sells the best pies.
A thick fog rolled in from the sea at dawn.
The mechanic said the brakes need replacing soon.
My cousin moved to a small town near the mountains.
The candles flickered as the door swung open.
They planted a cherry tree to celebrate the birth.
The water in the bay was calm and clear.
He counted the coins twice before paying.
The singer thanked the audience for coming.
We stayed up late talking about our travels.
The old stone wall runs all the way to the sea.
Her bicycle has a basket full of flowers.
The zoo has a new family of playful otters.
The lamp in the hallway needs a new bulb.
The snow melted quickly when the sun came out.
A blackbird built a nest in our garden hedge.
The students listened carefully to the guest speaker.
The restaurant serves breakfast until eleven.
He promised to call his mother every Sunday.
The factory whistle blew at exactly noon.
We packed sandwiches and fruit for the long journey.
The storm knocked down several trees in the park.
""".strip().splitlines()

ITALIAN = """
Il treno per Roma parte alle otto del mattino.
Mia nonna prepara la pasta fresca ogni domenica.
Il gatto dorme sul divano vicino alla finestra.
Domani andiamo al mare con i nostri amici.
La biblioteca chiude alle sei di sera.
Ho comprato pane, formaggio e frutta al mercato.
Il sole splende sopra le colline toscane.
Mio fratello suona la chitarra in una band.
La strada per il paese è molto stretta.
Abbiamo visto un film molto divertente ieri sera.
Il caffè è troppo caldo da bere adesso.
I bambini giocano a calcio nel cortile della scuola.
La pioggia è caduta per tutta la notte.
Il museo è aperto tutti i giorni tranne il lunedì.
Vorrei una tazza di tè con un po' di limone.
Il cane corre felice sulla spiaggia.
La mia amica lavora in un ospedale di Milano.
Le montagne sono coperte di neve in inverno.
Il medico mi ha detto di riposare un po'.
Il negozio all'angolo vende giornali e dolci.
La barca si avvicina lentamente al porto.
Stasera ceniamo in una piccola trattoria.
Il professore ha spiegato la lezione con pazienza.
Le foglie cadono dagli alberi in autunno.
Mio padre ripara la bicicletta in garage.
Il concerto è finito dopo mezzanotte.
Abbiamo piantato fiori rossi nel giardino.
Il vento soffia forte sulla costa.
La torta deve cuocere ancora dieci minuti.
Il ponte antico attraversa il fiume della città.
Gli studenti aspettano il pullman davanti alla scuola.
Questa estate vorrei visitare la Sicilia.
""".strip().splitlines()

CZECH = """
Vlak do Prahy odjíždí v osm hodin ráno.
Moje babička peče každou neděli koláče.
Kočka spí na gauči u okna.
Zítra půjdeme s přáteli na výlet do hor.
Knihovna zavírá v šest hodin večer.
Na trhu jsem koupil chleba, sýr a jablka.
Slunce svítí nad zelenými kopci.
Můj bratr hraje na kytaru v kapele.
Cesta do vesnice je velmi úzká.
Včera večer jsme viděli zábavný film.
Káva je teď příliš horká.
Děti hrají fotbal na školním hřišti.
Celou noc pršelo.
Muzeum je otevřené každý den kromě pondělí.
Chtěl bych šálek čaje s citronem.
Pes šťastně běží po louce.
Moje kamarádka pracuje v nemocnici v Brně.
Hory jsou v zimě pokryté sněhem.
Lékař mi řekl, abych si odpočinul.
Obchod na rohu prodává noviny a sladkosti.
Loďka pomalu pluje k přístavu.
Dnes večer budeme večeřet v malé restauraci.
Učitel vysvětlil lekci s velkou trpělivostí.
Na podzim padá listí ze stromů.
Můj otec opravuje kolo v garáži.
Koncert skončil po půlnoci.
Na zahradě jsme zasadili červené květiny.
Na pobřeží fouká silný vítr.
Dort se musí péct ještě deset minut.
Starý most vede přes řeku uprostřed města.
Studenti čekají na autobus před školou.
""".strip().splitlines()

FINNISH = """
Juna Helsinkiin lähtee kahdeksalta aamulla.
Isoäitini leipoo pullaa joka sunnuntai.
Kissa nukkuu sohvalla ikkunan vieressä.
Huomenna menemme ystävien kanssa mökille.
Kirjasto sulkeutuu kello kuusi illalla.
Ostin torilta leipää, juustoa ja omenoita.
Aurinko paistaa vihreiden mäkien yllä.
Veljeni soittaa kitaraa pienessä bändissä.
Tie kylään on hyvin kapea ja mutkainen.
Katsoimme eilen illalla hauskan elokuvan.
Kahvi on liian kuumaa juotavaksi nyt.
Lapset pelaavat jalkapalloa koulun pihalla.
Koko yön satoi vettä.
Museo on auki joka päivä paitsi maanantaina.
Haluaisin kupin teetä ja vähän sitruunaa.
Koira juoksee iloisena rannalla.
Ystäväni työskentelee sairaalassa Tampereella.
Tunturit ovat talvella lumen peitossa.
Lääkäri käski minun levätä muutaman päivän.
Kulman kauppa myy lehtiä ja karkkeja.
Vene lähestyy hitaasti satamaa.
Tänä iltana syömme pienessä ravintolassa.
Opettaja selitti asian kärsivällisesti.
Syksyllä lehdet putoavat puista.
Isäni korjaa polkupyörää autotallissa.
Konsertti loppui vasta keskiyön jälkeen.
Istutimme puutarhaan punaisia kukkia.
Rannikolla tuulee tänään kovasti.
Kakun täytyy olla uunissa vielä kymmenen minuuttia.
Vanha silta ylittää joen kaupungin keskellä.
Opiskelijat odottavat bussia koulun edessä.
""".strip().splitlines()

CATALAN = """
El tren cap a Barcelona surt a les vuit del matí.
La meva àvia fa coca cada diumenge.
El gat dorm al sofà al costat de la finestra.
Demà anirem a la platja amb els amics.
La biblioteca tanca a les sis de la tarda.
He comprat pa, formatge i fruita al mercat.
El sol brilla sobre els turons verds.
El meu germà toca la guitarra en un grup.
El camí cap al poble és molt estret.
Ahir a la nit vam veure una pel·lícula divertida.
El cafè és massa calent per beure'l ara.
Els nens juguen a futbol al pati de l'escola.
Ha plogut durant tota la nit.
El museu obre cada dia excepte els dilluns.
Voldria una tassa de te amb una mica de llimona.
El gos corre feliç per la sorra.
La meva amiga treballa en un hospital de Girona.
Les muntanyes estan cobertes de neu a l'hivern.
El metge m'ha dit que descansi uns dies.
La botiga de la cantonada ven diaris i llaminadures.
La barca s'acosta lentament al port.
Aquesta nit soparem en un petit restaurant.
El professor ha explicat la lliçó amb paciència.
A la tardor les fulles cauen dels arbres.
El meu pare arregla la bicicleta al garatge.
El concert va acabar després de mitjanit.
Hem plantat flors vermelles al jardí.
Avui bufa un vent molt fort a la costa.
El pastís ha de coure deu minuts més.
El pont antic travessa el riu de la ciutat.
Els estudiants esperen l'autobús davant de l'escola.
""".strip().splitlines()

SPANISH = """
El tren a Madrid sale a las ocho de la mañana.
Mi abuela prepara tortilla todos los domingos.
El gato duerme en el sofá junto a la ventana.
Mañana iremos a la playa con nuestros amigos.
La biblioteca cierra a las seis de la tarde.
Compré pan, queso y fruta en el mercado.
El sol brilla sobre las colinas verdes.
Mi hermano toca la guitarra en un grupo.
El camino al pueblo es muy estrecho.
Anoche vimos una película muy divertida.
El café está demasiado caliente para beberlo ahora.
Los niños juegan al fútbol en el patio del colegio.
Llovió durante toda la noche.
El museo abre todos los días excepto los lunes.
Quisiera una taza de té con un poco de limón.
El perro corre feliz por la arena.
Mi amiga trabaja en un hospital de Sevilla.
Las montañas están cubiertas de nieve en invierno.
El médico me dijo que descansara unos días.
La tienda de la esquina vende periódicos y dulces.
La barca se acerca lentamente al puerto.
Esta noche cenaremos en un pequeño restaurante.
El profesor explicó la lección con mucha paciencia.
En otoño las hojas caen de los árboles.
Mi padre arregla la bicicleta en el garaje.
El concierto terminó después de medianoche.
Plantamos flores rojas en el jardín.
Hoy sopla un viento muy fuerte en la costa.
El pastel necesita diez minutos más en el horno.
El puente antiguo cruza el río de la ciudad.
Los estudiantes esperan el autobús delante de la escuela.
""".strip().splitlines()

GERMAN = """
Der Zug nach Berlin fährt um acht Uhr morgens ab.
Meine Großmutter backt jeden Sonntag einen Kuchen.
Die Katze schläft auf dem Sofa neben dem Fenster.
Morgen fahren wir mit unseren Freunden an den See.
Die Bibliothek schließt um sechs Uhr abends.
Ich habe Brot, Käse und Obst auf dem Markt gekauft.
Die Sonne scheint über den grünen Hügeln.
Mein Bruder spielt Gitarre in einer kleinen Band.
Der Weg ins Dorf ist sehr schmal und kurvig.
Gestern Abend haben wir einen lustigen Film gesehen.
Der Kaffee ist noch viel zu heiß zum Trinken.
Die Kinder spielen Fußball auf dem Schulhof.
Es hat die ganze Nacht geregnet.
Das Museum ist jeden Tag außer Montag geöffnet.
Ich hätte gern eine Tasse Tee mit etwas Zitrone.
Der Hund läuft fröhlich über die Wiese.
Meine Freundin arbeitet in einem Krankenhaus in Hamburg.
Die Berge sind im Winter mit Schnee bedeckt.
Der Arzt hat mir gesagt, ich soll mich ausruhen.
Der Laden an der Ecke verkauft Zeitungen und Süßigkeiten.
Das Boot nähert sich langsam dem Hafen.
Heute Abend essen wir in einem kleinen Restaurant.
Der Lehrer hat die Aufgabe geduldig erklärt.
Im Herbst fallen die Blätter von den Bäumen.
Mein Vater repariert das Fahrrad in der Garage.
Das Konzert war erst nach Mitternacht zu Ende.
Wir haben rote Blumen im Garten gepflanzt.
An der Küste weht heute ein starker Wind.
Der Kuchen muss noch zehn Minuten im Ofen bleiben.
Die alte Brücke führt über den Fluss in der Stadt.
Die Schüler warten vor der Schule auf den Bus.
""".strip().splitlines()

FRENCH = """
Le train pour Paris part à huit heures du matin.
Ma grand-mère prépare une tarte chaque dimanche.
Le chat dort sur le canapé près de la fenêtre.
Demain nous irons à la plage avec nos amis.
La bibliothèque ferme à six heures du soir.
J'ai acheté du pain, du fromage et des fruits au marché.
Le soleil brille sur les collines vertes.
Mon frère joue de la guitare dans un groupe.
La route du village est très étroite.
Hier soir nous avons vu un film très drôle.
Le café est encore trop chaud pour être bu.
Les enfants jouent au football dans la cour de l'école.
Il a plu pendant toute la nuit.
Le musée est ouvert tous les jours sauf le lundi.
Je voudrais une tasse de thé avec un peu de citron.
Le chien court joyeusement sur la plage.
Mon amie travaille dans un hôpital à Lyon.
Les montagnes sont couvertes de neige en hiver.
Le médecin m'a dit de me reposer quelques jours.
Le magasin du coin vend des journaux et des bonbons.
Le bateau s'approche lentement du port.
Ce soir nous dînons dans un petit restaurant.
Le professeur a expliqué la leçon avec patience.
En automne les feuilles tombent des arbres.
Mon père répare le vélo dans le garage.
Le concert s'est terminé après minuit.
Nous avons planté des fleurs rouges dans le jardin.
Le vent souffle très fort sur la côte aujourd'hui.
Le gâteau doit cuire encore dix minutes.
Le vieux pont traverse la rivière au centre de la ville.
Les élèves attendent le bus devant l'école.
""".strip().splitlines()

RUSSIAN = """
Поезд в Москву отправляется в восемь утра.
Моя бабушка печёт пироги каждое воскресенье.
Кошка спит на диване возле окна.
Завтра мы поедем с друзьями на озеро.
Библиотека закрывается в шесть часов вечера.
На рынке я купил хлеб, сыр и яблоки.
Солнце светит над зелёными холмами.
Мой брат играет на гитаре в группе.
Дорога в деревню очень узкая.
Вчера вечером мы смотрели смешной фильм.
Кофе сейчас слишком горячий.
Дети играют в футбол во дворе школы.
Дождь шёл всю ночь.
Музей открыт каждый день, кроме понедельника.
Я хотел бы чашку чая с лимоном.
Собака весело бегает по берегу.
Моя подруга работает в больнице в Петербурге.
Зимой горы покрыты снегом.
Врач сказал мне отдохнуть несколько дней.
Магазин на углу продаёт газеты и сладости.
Лодка медленно подходит к причалу.
Сегодня вечером мы ужинаем в маленьком кафе.
Учитель терпеливо объяснил урок.
Осенью листья падают с деревьев.
Мой отец чинит велосипед в гараже.
Концерт закончился после полуночи.
Мы посадили красные цветы в саду.
Сегодня на побережье дует сильный ветер.
Пирог должен печься ещё десять минут.
Старый мост пересекает реку в центре города.
Студенты ждут автобус перед школой.
""".strip().splitlines()

ARABIC = """
يغادر القطار إلى القاهرة في الساعة الثامنة صباحا.
تطبخ جدتي الأرز والدجاج كل يوم جمعة.
القطة نائمة على الأريكة بجانب النافذة.
غدا سنذهب إلى البحر مع أصدقائنا.
تغلق المكتبة في الساعة السادسة مساء.
اشتريت الخبز والجبن والفاكهة من السوق.
الشمس مشرقة فوق التلال الخضراء.
أخي يعزف على الغيتار في فرقة صغيرة.
الطريق إلى القرية ضيق جدا.
شاهدنا فيلما مضحكا مساء أمس.
القهوة ساخنة جدا الآن.
يلعب الأطفال كرة القدم في ساحة المدرسة.
نزل المطر طوال الليل.
المتحف مفتوح كل يوم ما عدا يوم الاثنين.
أريد فنجانا من الشاي مع قليل من الليمون.
يركض الكلب بسعادة على الشاطئ.
صديقتي تعمل في مستشفى في عمان.
الجبال مغطاة بالثلج في فصل الشتاء.
قال لي الطبيب أن أرتاح بضعة أيام.
يبيع المحل في الزاوية الجرائد والحلويات.
يقترب القارب ببطء من الميناء.
سنتناول العشاء الليلة في مطعم صغير.
شرح المعلم الدرس بصبر كبير.
تتساقط أوراق الأشجار في فصل الخريف.
أبي يصلح الدراجة في المرآب.
انتهت الحفلة الموسيقية بعد منتصف الليل.
زرعنا زهورا حمراء في الحديقة.
تهب اليوم رياح قوية على الساحل.
تحتاج الكعكة إلى عشر دقائق أخرى في الفرن.
الجسر القديم يعبر النهر في وسط المدينة.
ينتظر الطلاب الحافلة أمام المدرسة.
""".strip().splitlines()

HINDI = """
दिल्ली जाने वाली रेलगाड़ी सुबह आठ बजे निकलती है।
मेरी दादी हर रविवार को खीर बनाती हैं।
बिल्ली खिड़की के पास सोफ़े पर सो रही है।
कल हम अपने दोस्तों के साथ नदी पर जाएंगे।
पुस्तकालय शाम छह बजे बंद होता है।
मैंने बाज़ार से रोटी, पनीर और फल खरीदे।
हरी पहाड़ियों के ऊपर सूरज चमक रहा है।
मेरा भाई एक छोटे बैंड में गिटार बजाता है।
गाँव जाने वाली सड़क बहुत सँकरी है।
कल रात हमने एक मज़ेदार फ़िल्म देखी।
चाय अभी बहुत गरम है।
बच्चे स्कूल के मैदान में फ़ुटबॉल खेल रहे हैं।
पूरी रात बारिश होती रही।
संग्रहालय सोमवार को छोड़कर हर दिन खुला रहता है।
मुझे नींबू वाली एक कप चाय चाहिए।
कुत्ता खुशी से समुद्र के किनारे दौड़ रहा है।
मेरी सहेली मुंबई के एक अस्पताल में काम करती है।
सर्दियों में पहाड़ बर्फ़ से ढक जाते हैं।
डॉक्टर ने मुझे कुछ दिन आराम करने को कहा।
कोने की दुकान अख़बार और मिठाइयाँ बेचती है।
नाव धीरे धीरे किनारे की ओर आ रही है।
आज रात हम एक छोटे ढाबे में खाना खाएंगे।
अध्यापक ने बड़े धैर्य से पाठ समझाया।
पतझड़ में पेड़ों से पत्ते गिरते हैं।
मेरे पिताजी गैराज में साइकिल ठीक कर रहे हैं।
संगीत का कार्यक्रम आधी रात के बाद खत्म हुआ।
हमने बगीचे में लाल फूल लगाए।
आज समुद्र तट पर तेज़ हवा चल रही है।
केक को दस मिनट और पकना है।
पुराना पुल शहर के बीच में नदी को पार करता है।
छात्र स्कूल के सामने बस का इंतज़ार कर रहे हैं।
""".strip().splitlines()

MARATHI = """
मुंबईला जाणारी गाडी सकाळी आठ वाजता सुटते.
माझी आजी दर रविवारी पुरणपोळी बनवते.
मांजर खिडकीजवळच्या सोफ्यावर झोपली आहे.
उद्या आम्ही मित्रांबरोबर समुद्रावर जाणार आहोत.
वाचनालय संध्याकाळी सहा वाजता बंद होते.
मी बाजारातून भाकरी, दही आणि फळे आणली.
हिरव्या डोंगरांवर सूर्य चमकत आहे.
माझा भाऊ एका लहान गटात गिटार वाजवतो.
गावाकडे जाणारा रस्ता खूप अरुंद आहे.
काल रात्री आम्ही एक मजेदार चित्रपट पाहिला.
चहा अजून खूप गरम आहे.
मुले शाळेच्या मैदानावर फुटबॉल खेळत आहेत.
रात्रभर पाऊस पडत होता.
संग्रहालय सोमवार सोडून रोज उघडे असते.
मला लिंबू घातलेला एक कप चहा हवा आहे.
कुत्रा आनंदाने किनाऱ्यावर धावत आहे.
माझी मैत्रीण पुण्यातील एका रुग्णालयात काम करते.
हिवाळ्यात डोंगर बर्फाने झाकले जातात.
डॉक्टरांनी मला काही दिवस विश्रांती घ्यायला सांगितले.
कोपऱ्यावरचे दुकान वर्तमानपत्रे आणि मिठाई विकते.
होडी हळूहळू किनाऱ्याकडे येत आहे.
आज रात्री आम्ही एका लहान हॉटेलात जेवणार आहोत.
शिक्षकांनी धडा खूप शांतपणे समजावून सांगितला.
शरद ऋतूत झाडांची पाने गळतात.
माझे बाबा गॅरेजमध्ये सायकल दुरुस्त करत आहेत.
गाण्याचा कार्यक्रम मध्यरात्रीनंतर संपला.
आम्ही बागेत लाल फुले लावली.
आज किनाऱ्यावर जोराचा वारा वाहत आहे.
विद्यार्थी शाळेसमोर बसची वाट पाहत आहेत.
जुना पूल शहराच्या मधून नदी ओलांडतो.
""".strip().splitlines()

TELUGU = """
హైదరాబాద్ వెళ్ళే రైలు ఉదయం ఎనిమిది గంటలకు బయలుదేరుతుంది.
మా అమ్మమ్మ ప్రతి ఆదివారం పాయసం చేస్తుంది.
పిల్లి కిటికీ పక్కన సోఫా మీద నిద్రపోతోంది.
రేపు మేము మా స్నేహితులతో సముద్రానికి వెళ్తాము.
గ్రంథాలయం సాయంత్రం ఆరు గంటలకు మూసివేస్తారు.
నేను సంతలో రొట్టె, పెరుగు, పండ్లు కొన్నాను.
పచ్చని కొండల మీద సూర్యుడు ప్రకాశిస్తున్నాడు.
మా అన్నయ్య ఒక చిన్న బృందంలో గిటార్ వాయిస్తాడు.
ఊరికి వెళ్ళే దారి చాలా ఇరుకుగా ఉంది.
నిన్న రాత్రి మేము ఒక సరదా సినిమా చూశాము.
టీ ఇంకా చాలా వేడిగా ఉంది.
పిల్లలు బడి మైదానంలో ఫుట్‌బాల్ ఆడుతున్నారు.
రాత్రంతా వర్షం పడుతూనే ఉంది.
మ్యూజియం సోమవారం తప్ప ప్రతి రోజూ తెరిచి ఉంటుంది.
నాకు నిమ్మకాయ వేసిన ఒక కప్పు టీ కావాలి.
కుక్క సంతోషంగా సముద్ర తీరంలో పరుగెత్తుతోంది.
నా స్నేహితురాలు విజయవాడలోని ఒక ఆసుపత్రిలో పని చేస్తుంది.
చలికాలంలో కొండలు మంచుతో కప్పబడి ఉంటాయి.
డాక్టర్ నన్ను కొన్ని రోజులు విశ్రాంతి తీసుకోమన్నారు.
మూలలోని దుకాణం వార్తాపత్రికలు, మిఠాయిలు అమ్ముతుంది.
పడవ నెమ్మదిగా ఒడ్డు వైపు వస్తోంది.
ఈ రాత్రి మేము ఒక చిన్న హోటల్లో భోజనం చేస్తాము.
ఉపాధ్యాయుడు పాఠాన్ని ఓపికగా వివరించారు.
శరదృతువులో చెట్ల నుండి ఆకులు రాలుతాయి.
మా నాన్నగారు గ్యారేజీలో సైకిల్ బాగు చేస్తున్నారు.
సంగీత కార్యక్రమం అర్ధరాత్రి తర్వాత ముగిసింది.
మేము తోటలో ఎర్రని పూలు నాటాము.
ఈ రోజు తీరంలో బలమైన గాలి వీస్తోంది.
విద్యార్థులు బడి ముందు బస్సు కోసం ఎదురు చూస్తున్నారు.
పాత వంతెన నగరం మధ్యలో నదిని దాటుతుంది.
""".strip().splitlines()

SENTENCES: dict[str, list[str]] = {
    "en": ENGLISH,
    "it": ITALIAN,
    "cs": CZECH,
    "fi": FINNISH,
    "ca": CATALAN,
    "es": SPANISH,
    "de": GERMAN,
    "fr": FRENCH,
    "ru": RUSSIAN,
    "ar": ARABIC,
    "hi": HINDI,
    "mr": MARATHI,
    "te": TELUGU,
}


def sentences(language: str) -> list[str]:
    """Sentence pool for an ISO 639-1 language code (KeyError if the project has none)."""
    return SENTENCES[language]
